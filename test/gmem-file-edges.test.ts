// guest_memfd at its edges, model and impl together: loff_t limits of create/fallocate, mmap's offset and length,
// i_size in host faults, pins and bindings across a punched hole, private/shared lookups beside and between
// memslots, huge folios (levels, splits, allocation), userfaultfd's view of guest_memfd, and punch-hole racing a host fault.
import { describe, expect, it } from "vitest";
import { SETUP, type RaceActor } from "../props/concurrent/harness.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import { interleavings } from "./helpers/interleavings.js";
import { gmemSlot, memslot } from "./helpers/ops.js";
import { levelAt, runBoth } from "./helpers/run.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const PAGE = 4096;
const LOFF = 2 ** 63;
const MAP_STRIDE = 2 ** 40;
const V7 = PRESETS["gmem-v7"];
const V7_2M: Config = { ...V7, gmemFolio: "2M" };
const V7_1G: Config = { ...V7, gmemFolio: "1G" };
/** KVM's own attribute array decides private/shared (vm_memory_attributes on). */
const ATTRS_2M: Config = { ...PRESETS.default, gmemFolio: "2M" };

type Flags = ("MMAP" | "INIT_SHARED")[];
const vm = (type = 1): Op => ({ op: "create_vm", vm: "v0", type });
const gmem = (size: number, flags: Flags = ["MMAP", "INIT_SHARED"], name = "g0"): Op => ({ op: "create_gmem", vm: "v0", gmem: name, size, flags });
const slot = gmemSlot;
const mmapG = (length: number, offset = 0, map = "m5"): Op => ({ op: "gmem_mmap", gmem: "g0", map, offset, length });
const falloc = (offset: number, len: number, mode: ("PUNCH_HOLE" | "KEEP_SIZE")[] = ["PUNCH_HOLE", "KEEP_SIZE"]): Op => ({ op: "gmem_fallocate", gmem: "g0", mode, offset, len });
const convert = (offset: number, size: number, to: "private" | "shared"): Op => ({ op: "gmem_convert", gmem: "g0", offset, size, to });
const read = (gpa: number): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa, kind: "read" });
const hostWrite = (page: number, byte: number, map = "m5"): Op => ({ op: "access", map, offset: page * PAGE, kind: "write", byte });
const hostRead = (page: number, map = "m5"): Op => ({ op: "access", map, offset: page * PAGE, kind: "read" });
const mmio = (gpa: number) => ({ result: "exit", exit: "mmio", gpa, write: false });

const last = async (config: Config, ops: readonly Op[]) => (await runBoth(config, ops)).outcomes.at(-1);

describe("loff_t limits and alignment (vfs and kvm_gmem_create/fallocate)", () => {
  it("a size of 2^63 is negative as loff_t: create fails with EINVAL", async () => {
    expect(await last(V7, [vm(), gmem(LOFF)])).toEqual({ errno: "EINVAL" });
  });

  it("a len of 2^63 is negative as loff_t: fallocate fails with EINVAL, not EFBIG", async () => {
    expect(await last(V7, [vm(), gmem(4 * MiB), falloc(0, LOFF, ["KEEP_SIZE"])])).toEqual({ errno: "EINVAL" });
  });

  it("PUNCH_HOLE without KEEP_SIZE is EOPNOTSUPP even when offset + len overflows (mode checked before EFBIG)", async () => {
    expect(await last(V7, [vm(), gmem(4 * MiB), falloc(2 ** 62, 2 ** 62, ["PUNCH_HOLE"])])).toEqual({ errno: "EOPNOTSUPP" });
  });

  it("an aligned offset with a len of half a page is EINVAL and allocates nothing", async () => {
    const { outcomes, state } = await runBoth(V7, [vm(), gmem(4 * MiB), falloc(0, PAGE / 2, ["KEEP_SIZE"])]);
    expect(outcomes.at(-1)).toEqual({ errno: "EINVAL" });
    expect(state.gmem.inodes[0]!.present).toEqual([]);
  });
});

describe("gmem_mmap's generic checks", () => {
  it("an offset that is not page aligned is EINVAL", async () => {
    expect(await last(V7, [vm(), gmem(4 * MiB), mmapG(PAGE, PAGE / 2)])).toEqual({ errno: "EINVAL" });
  });

  it("length 0 is EINVAL", async () => {
    expect(await last(V7, [vm(), gmem(4 * MiB), mmapG(0)])).toEqual({ errno: "EINVAL" });
  });

  it("a length filling the map's window maps; one page more is EINVAL", async () => {
    expect(await last(V7, [vm(), gmem(4 * MiB), mmapG(MAP_STRIDE)])).toEqual({ result: "ok" });
    expect(await last(V7, [vm(), gmem(4 * MiB), mmapG(MAP_STRIDE + PAGE)])).toEqual({ errno: "EINVAL" });
  });

  it("a page-aligned offset into the file maps", async () => {
    expect(await last(V7, [vm(), gmem(4 * MiB), mmapG(PAGE, PAGE)])).toEqual({ result: "ok" });
  });

  it("once the old mapping is wholly unmapped, its window can be mapped again", async () => {
    const outcomes = (await runBoth(V7, [vm(), gmem(4 * MiB), mmapG(2 * PAGE), { op: "munmap", map: "m5" }, mmapG(2 * PAGE)])).outcomes;
    expect(outcomes.at(-1)).toEqual({ result: "ok" });
  });
});

describe("i_size in host faults and alias accesses", () => {
  // A one-page file behind a two-page mapping: page 1 is past i_size (kvm_gmem_fault_user_mapping).
  const setup: Op[] = [vm(), gmem(PAGE), mmapG(2 * PAGE)];

  it("a host fault past i_size is SIGBUS for the i_size reason", async () => {
    const { outcomes, fired } = await runBoth(V7, [...setup, hostRead(1)]);
    expect(outcomes.at(-1)).toEqual({ result: "SIGBUS", code: "BUS_ADRERR" });
    expect(fired.at(-1)).toContain("gmem.host-fault-eof");
  });

  it("an alias read past i_size is SIGBUS for the i_size reason", async () => {
    const { outcomes, fired } = await runBoth(V7, [...setup, { op: "read_alias", map: "m5", offset: PAGE }]);
    expect(outcomes.at(-1)).toEqual({ result: "SIGBUS", code: "BUS_ADRERR" });
    expect(fired.at(-1)).toContain("gmem.host-fault-eof");
  });

  it("closing the fd leaves the mapping's file alive: the host can still fault through it", async () => {
    const outcomes = (await runBoth(V7, [vm(), gmem(4 * MiB), mmapG(4 * MiB), hostWrite(0, 3), { op: "close", gmem: "g0" }, hostWrite(1, 4), hostRead(1)])).outcomes;
    expect(outcomes.slice(-2)).toEqual([{ result: "ok" }, { result: "ok", value: 4 }]);
  });

  it("a mapping holds the file: after close the guest still reaches it, and munmap of the last mapping releases it", async () => {
    const bound = [vm(), gmem(4 * MiB), slot(), mmapG(4 * MiB), hostWrite(0, 3), { op: "close", gmem: "g0" } satisfies Op];
    const held = await runBoth(V7, [...bound, read(0)]);
    expect(held.fired[5]).toContain("gmem.close-mapped");
    expect(held.outcomes.at(-1)).toEqual({ result: "ok", value: 3 });
    const gone = await runBoth(V7, [...bound, read(0), { op: "munmap", map: "m5" }, read(0)]);
    expect(gone.fired.at(-2)).toContain("gmem.release");
    expect(gone.outcomes.at(-1)).toMatchObject({ result: "exit", exit: "memory_fault", errno: "EFAULT", gpa: 0 });
    expect(levelAt(gone.state, 0)).toBeUndefined();
  });

  it("munmap of one of two mappings after close keeps the file; a partial munmap keeps the mapping", async () => {
    const two = [vm(), gmem(4 * MiB), slot(), mmapG(4 * MiB), mmapG(PAGE, 0, "m6"), { op: "close", gmem: "g0" } satisfies Op];
    const { outcomes, fired } = await runBoth(V7, [...two, { op: "munmap", map: "m6" }, { op: "munmap", map: "m5", offset: PAGE }, read(0)]);
    expect(fired.slice(-3, -1).flat()).not.toContain("gmem.release");
    expect(outcomes.at(-1)).toEqual({ result: "ok", value: 0 });
  });
});

describe("kvm_gmem_bind's range check", () => {
  it("a slot running past i_size is EINVAL, whether by its size or by its offset", async () => {
    expect(await last(V7, [vm(), gmem(2 * MiB), slot()])).toEqual({ errno: "EINVAL" });
    expect(await last(V7, [vm(), gmem(2 * MiB), slot({ memory_size: 2 * MiB, guest_memfd_offset: PAGE })])).toEqual({ errno: "EINVAL" });
  });
});

describe("punch-hole across pins and bindings", () => {
  it("punching page 0 keeps the pin on page 1", async () => {
    const { state } = await runBoth(V7, [vm(), gmem(4 * MiB), mmapG(4 * MiB), hostWrite(1, 7), { op: "pin", map: "m5", offset: PAGE }, falloc(0, PAGE)]);
    expect(state.gmem.inodes[0]!.pins).toEqual([{ start: 1, end: 2, value: 1 }]);
  });

  it("two slots bound to adjacent pages of one file: punching the second page zaps only the second slot's mapping", async () => {
    const { state } = await runBoth(V7, [
      vm(),
      gmem(4 * MiB, []),
      slot({ memory_size: PAGE }),
      slot({ slot: 1, guest_phys_addr: MiB, memory_size: PAGE, guest_memfd_offset: PAGE }),
      read(0),
      read(MiB),
      falloc(PAGE, PAGE),
    ]);
    expect(levelAt(state, 0)).toBe(0);
    expect(levelAt(state, MiB / PAGE)).toBeUndefined();
  });
});

describe("KVM memslots over a guest_memfd mmap", () => {
  // The mmu notifier of a punch covers the punched pages of the mapping: the SPTE of the page before them stays.
  it("punching page 1 zaps the SPTE of page 1 and keeps page 0's", async () => {
    const { state } = await runBoth(V7, [vm(), gmem(4 * MiB), mmapG(4 * MiB), memslot({ userspace: "m5" }), read(0), read(PAGE), falloc(PAGE, PAGE)]);
    expect(levelAt(state, 0)).toBe(0);
    expect(levelAt(state, 1)).toBeUndefined();
  });
});

describe("private or shared beside and between memslots (v7: guest_memfd decides)", () => {
  it("the gfn just past a one-page private slot is shared: an MMIO exit, not a private memory fault", async () => {
    expect(await last(V7, [vm(), gmem(4 * MiB, []), slot({ memory_size: PAGE }), read(PAGE)])).toEqual(mmio(PAGE));
  });

  it("a guest_memfd slot in the SMM address space does not make address space 0 private", async () => {
    const ops: Op[] = [vm(0), gmem(4 * MiB, []), slot({ slot: 1 << 16 }), read(0)];
    expect(await last(V7, ops)).toEqual(mmio(0));
  });

  it("a shared page of a slot whose file offset is past its gfn maps shared", async () => {
    const { outcomes, state } = await runBoth(V7, [vm(), gmem(4 * MiB), slot({ memory_size: MiB, guest_memfd_offset: MiB }), read(PAGE)]);
    expect(outcomes.at(-1)).toEqual({ result: "ok", value: 0 });
    // The slot starts MiB into the file: gfn 1 is the file's page 257.
    expect(state.kvm.vms[0]!.stage2[0]).toEqual([
      { start: 1, end: 2, value: { level: 0, writable: true, private: false, page: { in: "gmem", inode: 0, delta: MiB / PAGE } } },
    ]);
  });

  it("after the file is closed its slot is shared and faults through the hva", async () => {
    const { outcomes, state } = await runBoth(V7, [
      vm(),
      gmem(4 * MiB, []),
      { op: "mmap", map: "m1", file: "anon", offset: 0, length: 4 * MiB },
      slot({ userspace: "m1" }),
      { op: "close", gmem: "g0" },
      read(0),
    ]);
    expect(outcomes.at(-1)).toEqual({ result: "ok", value: 0 });
    expect(state.kvm.vms[0]!.stage2[0]![0]!.value.private).toBe(false);
  });

  it("a plain slot on a VM with private memory maps shared", async () => {
    const { outcomes } = await runBoth(V7, [vm(), { op: "mmap", map: "m1", file: "anon", offset: 0, length: 4 * MiB }, slot({ flags: [], guest_memfd: undefined, userspace: "m1" }), read(0)]);
    expect(outcomes.at(-1)).toEqual({ result: "ok", value: 0 });
  });
});

describe("KVM's attribute array decides (vm_memory_attributes on)", () => {
  const setup: Op[] = [
    vm(),
    gmem(4 * MiB, []),
    { op: "mmap", map: "m1", file: "anon", offset: 0, length: 4 * MiB },
    slot({ userspace: "m1" }),
  ];
  const priv = (address: number, size: number): Op => ({ op: "set_memory_attributes", vm: "v0", address, size, attributes: ["PRIVATE"] });

  it("a 2 MiB region private but for its last page maps the private fault at 4 KiB; the shared page comes from the hva", async () => {
    const { outcomes, state } = await runBoth(ATTRS_2M, [...setup, priv(0, 2 * MiB - PAGE), read(0), { op: "access", map: "m1", offset: 2 * MiB - PAGE, kind: "write", byte: 6 }, read(2 * MiB - PAGE)]);
    expect(outcomes.at(-1)).toEqual({ result: "ok", value: 6 });
    expect(levelAt(state, 0)).toBe(0);
    expect(state.kvm.vms[0]!.stage2[0]!.find((sp) => sp.start <= 511 && sp.end > 511)!.value.private).toBe(false);
  });

  it("a wholly private 2 MiB region maps at 2 MiB", async () => {
    expect(levelAt((await runBoth(ATTRS_2M, [...setup, priv(0, 2 * MiB), read(0)])).state, 0)).toBe(1);
  });

  it("the 2024 RFC with vm_memory_attributes off still keeps attributes in KVM: no INIT_SHARED for a VM with private memory", async () => {
    // kvm_gmem_get_supported_flags offers INIT_SHARED to CoCo VMs only with v7's per-gmem attributes ([PATCH v7 19/42]).
    const rfcNoAttrs: Config = { ...PRESETS.default, gmemDesign: "rfc-2024", kernel: { ...PRESETS.default.kernel, memoryAttributes: false } };
    expect(await last(rfcNoAttrs, [vm(), gmem(4 * MiB, ["INIT_SHARED"])])).toEqual({ errno: "EINVAL" });
  });
});

describe("huge folios", () => {
  it("2 MiB folios never map at 1 GiB, even in a 1 GiB aligned slot", async () => {
    const { state } = await runBoth(V7_2M, [vm(), gmem(GiB, []), slot({ memory_size: GiB }), read(0)]);
    expect(levelAt(state, 0)).toBe(1);
  });

  it("1 GiB folios in a 4 MiB slot: 1 GiB does not fit, 2 MiB does", async () => {
    const { state } = await runBoth(V7_1G, [vm(), gmem(GiB, []), slot(), read(0)]);
    expect(levelAt(state, 0)).toBe(1);
  });

  it("a split 1 GiB folio maps 4 KiB even in a wholly private 2 MiB region of it", async () => {
    const { state } = await runBoth(V7_1G, [vm(), gmem(GiB, ["MMAP"]), slot(), convert(5 * PAGE, PAGE, "shared"), read(0), read(2 * MiB)]);
    expect(state.gmem.inodes[0]!.split).toEqual([{ start: 0, end: GiB / PAGE, value: true }]);
    expect(levelAt(state, 512)).toBe(0);
  });

  it("sharing a whole 2 MiB folio splits only that folio: the next one stays unsplit and mapped at 2 MiB", async () => {
    const { state } = await runBoth(V7_2M, [vm(), gmem(4 * MiB, ["MMAP"]), slot(), read(0), read(2 * MiB), convert(0, 2 * MiB, "shared"), read(2 * MiB + PAGE)]);
    expect(state.gmem.inodes[0]!.split).toEqual([{ start: 0, end: 512, value: true }]);
    expect(levelAt(state, 513)).toBe(1);
  });

  it("arm64's gmem_abort maps 4 KiB even over an unsplit 2 MiB folio", async () => {
    const { outcomes, state } = await runBoth({ ...PRESETS.arm64, gmemFolio: "2M" }, [vm(0), gmem(4 * MiB, []), slot(), read(5 * PAGE)]);
    expect(outcomes.at(-1)).toEqual({ result: "ok", value: 0 });
    expect(levelAt(state, 5)).toBe(0);
  });

  it("to shared splits a 2 MiB folio only when there is one to split (kvm_gmem_try_split_folios_range finds none)", async () => {
    const { fired, state } = await runBoth(V7_2M, [vm(), gmem(4 * MiB, ["MMAP"]), slot(), convert(0, PAGE, "shared"), read(2 * MiB), convert(2 * MiB + PAGE, PAGE, "shared")]);
    expect(fired[3]).not.toContain("gmem.folio-split");
    expect(fired[5]).toContain("gmem.folio-split");
    expect(state.gmem.inodes[0]!.split).toEqual([{ start: 512, end: 1024, value: true }]);
  });

  it("fallocate allocates whole 2 MiB folios, split at once when shared", async () => {
    const shared = (await runBoth(V7_2M, [vm(), gmem(4 * MiB), falloc(0, 4 * MiB, ["KEEP_SIZE"])])).state.gmem.inodes[0]!;
    expect(shared.present).toEqual([{ start: 0, end: 1024, value: true }]);
    expect(shared.split).toEqual([{ start: 0, end: 1024, value: true }]);
    const priv = (await runBoth(V7_2M, [vm(), gmem(4 * MiB, []), falloc(2 * MiB, 2 * MiB, ["KEEP_SIZE"])])).state.gmem.inodes[0]!;
    expect(priv.present).toEqual([{ start: 512, end: 1024, value: true }]);
    expect(priv.split).toEqual([]);
  });
});

describe("userfaultfd on guest_memfd (mm-2026 vm_uffd_ops)", () => {
  const uffd: Op[] = [{ op: "uffd_open", uffd: "u0", features: [] }];
  const reg = (mode: ("MISSING" | "MINOR")[]): Op => ({ op: "uffd_register", uffd: "u0", map: "m5", offset: 0, len: 4 * PAGE, mode });

  it("CONTINUE on a page of a split 2 MiB folio maps that very page", async () => {
    const { outcomes } = await runBoth({ ...PRESETS.default, gmemFolio: "2M" }, [
      vm(0),
      gmem(2 * MiB),
      mmapG(2 * MiB),
      ...uffd,
      reg(["MINOR"]),
      { op: "write_alias", map: "m5", offset: PAGE, byte: 5 },
      { op: "uffdio_continue", uffd: "u0", map: "m5", offset: PAGE, len: PAGE },
      hostRead(1),
    ]);
    expect(outcomes.at(-2)).toEqual({ result: "ok", mapped: PAGE });
    expect(outcomes.at(-1)).toEqual({ result: "ok", value: 5 });
  });

  it("POISON at i_size is EFAULT; on the last page inside the file it is placed", async () => {
    const { outcomes } = await runBoth(V7, [
      vm(),
      gmem(2 * MiB),
      mmapG(4 * MiB),
      ...uffd,
      { op: "uffd_register", uffd: "u0", map: "m5", offset: 0, len: 4 * MiB, mode: ["MISSING"] },
      { op: "uffdio_poison", uffd: "u0", map: "m5", offset: 2 * MiB, len: PAGE },
      { op: "uffdio_poison", uffd: "u0", map: "m5", offset: 2 * MiB - PAGE, len: PAGE },
    ]);
    expect(outcomes.slice(-2)).toEqual([{ errno: "EFAULT", updated: -14 }, { result: "ok", updated: PAGE }]);
  });

  it("COPY onto a private page is refused like a page past i_size (faultline's assumption)", async () => {
    const { outcomes, fired } = await runBoth(V7, [
      vm(),
      gmem(4 * MiB),
      mmapG(4 * MiB),
      convert(PAGE, PAGE, "private"),
      ...uffd,
      reg(["MISSING"]),
      { op: "uffdio_copy", uffd: "u0", map: "m5", offset: PAGE, len: PAGE, byte: 9 },
    ]);
    expect(outcomes.at(-1)).toEqual({ errno: "ENOMEM", copy: -12 });
    expect(fired.at(-1)).toContain("faultline.uffd-gmem-private-fill");
  });
});

/** Every interleaving of the actors after the setup, with the yield points they passed. */
async function everyInterleaving(config: Config, setup: readonly Op[], actors: readonly RaceActor[]): Promise<{ runs: number; failures: number; labels: Set<string> }> {
  const labels = new Set<string>();
  let runs = 0;
  let failures = 0;
  for await (const run of interleavings(config, [{ name: SETUP, steps: setup }, ...actors], 500)) {
    runs++;
    if (run.failure !== undefined) failures++;
    for (const s of run.steps) labels.add(s.label);
  }
  return { runs, failures, labels };
}

describe("punch-hole against a host fault (truncate_inode_pages_range waits for the folio lock)", () => {
  it("on a page of the second 2 MiB folio: every interleaving passes, every yield point named", async () => {
    const setup: Op[] = [vm(), gmem(4 * MiB), mmapG(4 * MiB), { op: "write_alias", map: "m5", offset: 2 * MiB + PAGE, byte: 7 }];
    // Two reads: a PTE left on the truncated folio would show the old byte after the hole.
    const host: RaceActor = { name: "host", steps: [hostRead(513), hostRead(513)] };
    const punch: RaceActor = { name: "VMM", steps: [falloc(2 * MiB, 2 * MiB)] };
    const r = await everyInterleaving(V7_2M, setup, [host, punch]);
    expect(r.failures).toBe(0);
    expect(r.runs).toBeGreaterThan(10);
    expect([...r.labels]).toEqual(
      expect.arrayContaining([
        "read_lock(filemap_invalidate_lock)",
        "kvm_gmem_fault_user_mapping:kvm_gmem_get_folio",
        "folio_lock",
        "finish_fault",
        "write_lock(filemap_invalidate_lock)",
        "truncate_inode_pages_range:folio_lock",
      ]),
    );
  });

  it("the 2024 RFC's host fault names its own yield point", async () => {
    const r = await everyInterleaving({ ...PRESETS.default, gmemDesign: "rfc-2024" }, [vm(0), gmem(4 * MiB), mmapG(4 * MiB)], [{ name: "host", steps: [hostRead(0)] }]);
    expect(r.failures).toBe(0);
    expect(r.labels.has("kvm_gmem_fault:kvm_gmem_get_folio")).toBe(true);
  });
});
