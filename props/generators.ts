// Operation generators aimed at a layout's edges: slot and huge-page boundaries, aligned and misaligned
// values, bits set and clear, flags toggled on the layout's own slots.
import fc from "fast-check";
import { PAGE_SIZE, SIZE_2M } from "../model/consts.js";
import type { Config } from "../schema/config.js";
import { CAPS, type MemslotFlagName, type Op } from "../schema/ops.js";
import { interestingGpas, regionOp, type Layout, type LayoutSlot } from "./layouts.js";

const ALL_FLAGS: readonly MemslotFlagName[] = ["LOG_DIRTY_PAGES", "READONLY", "GUEST_MEMFD", "USERFAULT"];

/** Page offsets in a slot that accesses, bitmap writes and attribute changes keep coming back to. */
const hotOffsets = (s: LayoutSlot): number[] => {
  const pages = s.size / PAGE_SIZE;
  return [...new Set([0, 1, 2, 511, 512, 513, pages - 1].filter((n) => n >= 0 && n < pages))];
};

/** A page offset in the slot: mostly hot ones, so writes get read back and set bits get hit. */
const offsetIn = (s: LayoutSlot): fc.Arbitrary<number> =>
  fc.oneof({ weight: 7, arbitrary: fc.constantFrom(...hotOffsets(s)) }, { weight: 2, arbitrary: fc.nat({ max: s.size / PAGE_SIZE - 1 }) });
const pageIn = (s: LayoutSlot): fc.Arbitrary<number> => offsetIn(s).map((n) => s.gpa + n * PAGE_SIZE);

export function opArbitrary(l: Layout, config: Config): fc.Arbitrary<Op> {
  const slots = l.slots.filter((s) => s.slot < 65536 * config.kernel.addressSpaces);
  const guestSlots = slots.filter((s) => s.slot < 65536);
  const slot = fc.constantFrom(...slots);
  const guestSlot = fc.constantFrom(...guestSlots);
  const edges = interestingGpas(l);
  const gpa = fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...edges) }, { weight: 8, arbitrary: guestSlot.chain(pageIn) });
  const inPage = fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(1, 2048, 4095) });
  const byte = fc.integer({ min: 1, max: 255 });
  const vcpu = fc.oneof({ weight: 30, arbitrary: fc.nat({ max: config.vcpus - 1 }) }, { weight: 1, arbitrary: fc.constant(config.vcpus) });
  const toggled = fc.oneof(
    { weight: 5, arbitrary: fc.constant(["USERFAULT"] as const) },
    { weight: 2, arbitrary: fc.constant(["LOG_DIRTY_PAGES"] as const) },
    { weight: 1, arbitrary: fc.constant(["LOG_DIRTY_PAGES", "USERFAULT"] as const) },
    { weight: 1, arbitrary: fc.constant([] as const) },
    { weight: 1, arbitrary: fc.constant(["READONLY"] as const) },
  );

  const vcpuAccess = fc
    .record({ vcpu, gpa, off: inPage, kind: fc.constantFrom("read", "write", "exec"), byte, priv: fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.boolean() }) })
    .map(({ vcpu: v, gpa: g, off, kind, byte: b, priv }): Op => ({
      op: "vcpu_access",
      vm: "v0",
      vcpu: v,
      gpa: g + off,
      kind,
      ...(kind === "write" ? { byte: b } : {}),
      ...(priv === undefined ? {} : { private: priv }),
    }));

  const toggleFlags = fc.tuple(slot, toggled).map(([s, t]): Op => {
    const flags = ALL_FLAGS.filter((f) => s.flags.includes(f) !== (t as readonly string[]).includes(f));
    return regionOp(s, { flags });
  });
  const deleteSlot = slot.map((s) => regionOp(s, { memory_size: 0 }));
  const recreate = fc.tuple(slot, toggled).map(([s, t]) => regionOp(s, { flags: [...s.flags, ...(t as readonly MemslotFlagName[]).filter((f) => f !== "READONLY")] }));
  const move = fc.tuple(guestSlot, fc.constantFrom(...l.altGpas)).map(([s, g]) => regionOp(s, { guest_phys_addr: g }));
  const randomRegion = fc
    .record({
      slot: fc.constantFrom(0, 1, 2, 3, 65536, 131072, config.kernel.userMemSlots - 1, config.kernel.userMemSlots, 65535),
      flags: fc.subarray([...ALL_FLAGS]),
      gpa: fc.constantFrom(...edges, 1, 2 ** 52, 2 ** 64 - PAGE_SIZE),
      size: fc.constantFrom(0, PAGE_SIZE, SIZE_2M, 4 * SIZE_2M, PAGE_SIZE + 1, 2 ** 31 * PAGE_SIZE, 2 ** 44),
      userspace: fc.constantFrom<string | null>(...l.maps.map((m) => m.map), null),
      userspaceOffset: fc.constantFrom(0, PAGE_SIZE, 1, SIZE_2M, 2 ** 47),
      gmem: fc.constantFrom<string | undefined>(undefined, "g0", "g1", "g9"),
      gmemOffset: fc.constantFrom(0, PAGE_SIZE, 1, 2 ** 63, 2 ** 64 - PAGE_SIZE),
      bitmap: fc.constantFrom<number | null | undefined>(undefined, null, PAGE_SIZE, 2 ** 47),
      v1: fc.boolean(),
    })
    .map((r) => regionOp(r, { ...(r.bitmap === undefined ? {} : { userfault_bitmap: r.bitmap }), ...(r.v1 ? { ioctl: "REGION" as const } : {}) }));

  const bitmapWrite = fc
    .tuple(slot.chain((s) => fc.tuple(fc.constant(s), offsetIn(s))), fc.oneof({ weight: 12, arbitrary: fc.constantFrom(1, 2, 512) }, { weight: 1, arbitrary: fc.constant(1 << 20) }), fc.boolean().chain((b) => (b ? fc.constant(true) : fc.boolean())))
    .map(([[s, gfnOffset], len, set]): Op => ({ op: set ? "userfault_set" : "userfault_clear", vm: "v0", slot: s.slot, gfn_offset: gfnOffset, npages: len }));

  const attributes = fc
    .record({ address: fc.oneof(gpa, gpa.map((g) => g + 1)), size: fc.constantFrom(PAGE_SIZE, PAGE_SIZE, SIZE_2M, 2 * SIZE_2M, 0, PAGE_SIZE + 1), priv: fc.boolean(), flags: fc.constantFrom(0, 0, 0, 0, 1) })
    .map((r): Op => ({ op: "set_memory_attributes", vm: "v0", address: r.address, size: r.size, attributes: r.priv ? ["PRIVATE"] : [], ...(r.flags ? { flags: r.flags } : {}) }));

  // A private span around the hot pages, then shared pages strictly inside it: the range map splits a span in three.
  const splitSpan = fc
    .tuple(guestSlot, fc.constantFrom(1, 2, 511), fc.boolean())
    .map(([s, page, whole]): Op =>
      whole
        ? { op: "set_memory_attributes", vm: "v0", address: s.gpa, size: SIZE_2M, attributes: ["PRIVATE"] }
        : { op: "set_memory_attributes", vm: "v0", address: s.gpa + page * PAGE_SIZE, size: PAGE_SIZE, attributes: [] },
    );

  const map = fc.constantFrom(...l.maps);
  const hostPage = fc.oneof(
    { weight: 3, arbitrary: fc.tuple(guestSlot.filter((s) => s.userspace !== null).chain((s) => fc.tuple(fc.constant(s), offsetIn(s)))).map(([[s, n]]) => ({ map: s.userspace!, page: s.userspaceOffset / PAGE_SIZE + n })) },
    { weight: 1, arbitrary: fc.tuple(map, fc.nat()).map(([m, n]) => ({ map: m.map, page: n % (m.bytes / PAGE_SIZE) })) },
  );
  const hostAccess = fc
    .tuple(hostPage, inPage, fc.constantFrom("read", "write"), byte)
    .map(([p, off, kind, b]): Op => ({ op: "access", map: p.map, offset: p.page * PAGE_SIZE + off, kind, ...(kind === "write" ? { byte: b } : {}) }));
  const dontneed = fc
    .tuple(map, fc.nat(), fc.constantFrom(PAGE_SIZE, SIZE_2M))
    .map(([m, n, len]): Op => ({ op: "madvise", map: m.map, offset: (n % (m.bytes / SIZE_2M)) * SIZE_2M, len, advice: "DONTNEED" }));
  const unmap = fc.tuple(map, fc.nat()).map(([m, n]): Op => ({ op: "munmap", map: m.map, offset: (n % (m.bytes / SIZE_2M)) * SIZE_2M, len: SIZE_2M }));
  const remap = fc.constantFrom(...l.prelude.filter((o) => o.op === "mmap" || o.op === "gmem_mmap"));
  const alias = fc
    .tuple(hostPage, inPage, fc.boolean(), byte)
    .map(([p, off, write, b]): Op => (write ? { op: "write_alias", map: p.map, offset: p.page * PAGE_SIZE + off, byte: b } : { op: "read_alias", map: p.map, offset: p.page * PAGE_SIZE + off }));
  const other = fc.oneof(
    fc.constantFrom(...CAPS).map((cap): Op => ({ op: "check_extension", cap, vm: "v0" })),
    fc.record({ size: fc.constantFrom(PAGE_SIZE, SIZE_2M, 0, PAGE_SIZE + 1), flags: fc.subarray(["MMAP", "INIT_SHARED"] as const) }).map((r): Op => ({ op: "create_gmem", vm: "v0", gmem: "g9", size: r.size, flags: [...r.flags] })),
  );

  return fc.oneof(
    { weight: 30, arbitrary: vcpuAccess },
    { weight: 12, arbitrary: bitmapWrite },
    { weight: 12, arbitrary: toggleFlags },
    { weight: 3, arbitrary: deleteSlot },
    { weight: 4, arbitrary: recreate },
    { weight: 3, arbitrary: move },
    { weight: 4, arbitrary: randomRegion },
    { weight: 8, arbitrary: attributes },
    { weight: 2, arbitrary: splitSpan },
    { weight: 10, arbitrary: hostAccess },
    { weight: 3, arbitrary: dontneed },
    { weight: 1, arbitrary: unmap },
    { weight: 1, arbitrary: remap },
    { weight: 3, arbitrary: alias },
    { weight: 2, arbitrary: other },
  );
}
