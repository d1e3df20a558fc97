// u64 arithmetic on doubles: exact for the values the vocabulary admits (safe integers, page-aligned values < 2^64).
import { TWO_64 } from "./consts.js";

/** True when a + b overflows 64 bits (the kernel's "wraps" checks). */
export const addWraps = (a: number, b: number): boolean => a + b >= TWO_64;

/** (u16)slot and slot >> 16, as kvm_vm_ioctl_set_memory_region splits the raw slot. */
export const slotId = (raw: number): number => raw % 65536;
export const slotAsId = (raw: number): number => Math.floor(raw / 65536);
