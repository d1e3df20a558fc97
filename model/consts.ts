// Constants of the uAPI and of the kernel limits the model enforces.

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
export const SIZE_2M = 2 * 1024 * 1024;
export const SIZE_1G = 1024 * 1024 * 1024;
export const TWO_64 = 2 ** 64;

/** Stage-2 / host mapping levels: 0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB. */
export type Level = 0 | 1 | 2;
export const LEVEL_PAGES: Readonly<Record<Level, number>> = { 0: 1, 1: 512, 2: 512 * 512 };

/** KVM_MEM_SLOTS_NUM = SHRT_MAX (include/linux/kvm_host.h). */
export const KVM_MEM_SLOTS_NUM = 32767;
/** KVM_MEM_MAX_NR_PAGES = (1UL << 31) - 1 (include/linux/kvm_host.h). */
export const KVM_MEM_MAX_NR_PAGES = 2 ** 31 - 1;

/**
 * x86 kvm_mmu_max_gfn(): a memslot may not end past gfn (1 << (max_gpa_bits - PAGE_SHIFT)) - 1
 * (arch/x86/kvm/x86.c kvm_arch_prepare_memory_region). max_gpa_bits is 52 with shadow paging (the machines here:
 * tdp_mmu off under PVM) and the host's MAXPHYADDR with TDP.
 */
export const X86_MAX_GFN = 2 ** (52 - PAGE_SHIFT) - 1;

/** TASK_SIZE for access_ok(): x86-64 4-level paging, arm64 48-bit VA. */
export const TASK_SIZE: Readonly<Record<"x86" | "arm64", number>> = { x86: 2 ** 47 - PAGE_SIZE, arm64: 2 ** 48 };

/** Host virtual addresses of scenario mappings: map "m<N>" lives at MAP_BASE + N * MAP_STRIDE (docs/VOCABULARY.md). */
export const MAP_BASE = 2 ** 41;
export const MAP_STRIDE = 2 ** 40;
export const MAX_MAPS = 64;

export const isPageAligned = (n: number): boolean => n % PAGE_SIZE === 0;
export const gfnOf = (gpa: number): number => Math.floor(gpa / PAGE_SIZE);
