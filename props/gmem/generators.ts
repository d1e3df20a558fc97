// Op generators for the guest_memfd suites: conversions, punch-holes and pins aimed at folio edges and at the
// pages the host and the guest keep touching, so contents written are read back after every kind of change.
import fc from "fast-check";
import { PAGE_SIZE } from "../../model/consts.js";
import { folioPagesOf } from "../../model/gmem/folio.js";
import type { Config } from "../../schema/config.js";
import type { Op } from "../../schema/ops.js";
import type { LayoutSlot } from "../layouts.js";
import type { GmemFile, GmemLayout } from "./layouts.js";

/** Page indexes of an n-page range that the ops keep coming back to: its ends and folio edges. */
function hotPages(pages: number, folio: number): number[] {
  const edges = [0, 1, 2, pages - 1, pages - 2, 511, 512, 513, folio - 1, folio, folio + 1, 2 * folio];
  return [...new Set(edges.filter((p) => p >= 0 && p < pages))].sort((a, b) => a - b);
}

const pageOf = (pages: number, folio: number): fc.Arbitrary<number> =>
  fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...hotPages(pages, folio)) }, { weight: 1, arbitrary: fc.nat({ max: pages - 1 }) });

export function gmemOpArbitrary(l: GmemLayout, config: Config): fc.Arbitrary<Op> {
  const folio = folioPagesOf(config);
  const byte = fc.integer({ min: 1, max: 255 });
  const inPage = fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(1, 4095) });
  const gmem = fc.constantFrom(...l.gmems);
  const mapped = l.gmems.filter((g): g is GmemFile & { map: string } => g.map !== undefined);
  const mappedGmem = fc.constantFrom(...mapped);
  const slots = l.slots.filter((s) => s.slot < 65536);

  const convert = fc
    .record({
      g: fc.oneof({ weight: 12, arbitrary: gmem }, { weight: 1, arbitrary: fc.constant({ name: "g9", size: folio * PAGE_SIZE }) }),
      pages: fc.constantFrom(1, 1, 2, folio, folio, 2 * folio, 512, Infinity, 0),
      skew: fc.constantFrom(0, 0, 0, 0, 0, 0, 1, PAGE_SIZE * 1024 * 1024),
      to: fc.constantFrom("private" as const, "shared" as const),
    })
    .chain((r) => pageOf(r.g.size / PAGE_SIZE, folio).map((page) => ({ ...r, page })))
    .map((r): Op => {
      const pages = Math.min(r.pages, r.g.size / PAGE_SIZE - r.page);
      return { op: "gmem_convert", gmem: r.g.name, offset: r.page * PAGE_SIZE + r.skew, size: pages * PAGE_SIZE, to: r.to };
    });

  const fallocate = fc
    .record({
      g: gmem,
      mode: fc.constantFrom(["PUNCH_HOLE", "KEEP_SIZE"] as const, ["PUNCH_HOLE", "KEEP_SIZE"] as const, ["KEEP_SIZE"] as const, ["PUNCH_HOLE"] as const, [] as const),
      folios: fc.constantFrom(1, 1, 2, 0),
      misalign: fc.constantFrom(0, 0, 0, 0, PAGE_SIZE),
    })
    .chain((r) => pageOf(r.g.size / PAGE_SIZE, folio).map((page) => ({ ...r, first: page - (page % folio) })))
    .map((r): Op => ({ op: "gmem_fallocate", gmem: r.g.name, mode: [...r.mode], offset: r.first * PAGE_SIZE + r.misalign, len: r.folios * folio * PAGE_SIZE }));

  const hostPage = mappedGmem.chain((g) => pageOf(g.size / PAGE_SIZE, folio).map((page) => ({ map: g.map, page })));
  const hostAccess = fc
    .tuple(hostPage, inPage, fc.boolean(), byte)
    .map(([p, off, write, b]): Op => ({ op: "access", map: p.map, offset: p.page * PAGE_SIZE + off, kind: write ? "write" : "read", ...(write ? { byte: b } : {}) }));
  const alias = fc
    .tuple(hostPage, fc.boolean(), byte)
    .map(([p, write, b]): Op => (write ? { op: "write_alias", map: p.map, offset: p.page * PAGE_SIZE, byte: b } : { op: "read_alias", map: p.map, offset: p.page * PAGE_SIZE }));
  const pinTarget = fc.oneof({ weight: 10, arbitrary: hostPage }, { weight: 1, arbitrary: fc.constantFrom({ map: l.anonMap, page: 0 }, { map: "m9", page: 0 }) });
  // Unpins aim at the first pages, where pins gather, so they usually find one.
  const unpinTarget = fc.oneof({ weight: 3, arbitrary: mappedGmem.chain((g) => fc.constantFrom(0, 1).map((page) => ({ map: g.map, page }))) }, { weight: 1, arbitrary: pinTarget });
  const pin = fc.oneof(
    pinTarget.map((p): Op => ({ op: "pin", map: p.map, offset: p.page * PAGE_SIZE })),
    unpinTarget.map((p): Op => ({ op: "unpin", map: p.map, offset: p.page * PAGE_SIZE })),
  );

  const gpaIn = (s: LayoutSlot): fc.Arbitrary<number> => pageOf(s.size / PAGE_SIZE, folio).map((p) => s.gpa + p * PAGE_SIZE);
  const gpa = fc.constantFrom(...slots).chain(gpaIn);
  const vcpuAccess = fc
    .record({ gpa, off: inPage, kind: fc.constantFrom("read", "write", "exec"), byte, priv: fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.boolean() }) })
    .map(
      (r): Op => ({
        op: "vcpu_access",
        vm: "v0",
        vcpu: 0,
        gpa: r.gpa + r.off,
        kind: r.kind,
        ...(r.kind === "write" ? { byte: r.byte } : {}),
        ...(r.priv === undefined ? {} : { private: r.priv }),
      }),
    );
  const attributes = fc
    .record({ gpa, pages: fc.constantFrom(1, 2, folio, 2 * folio, 1024), priv: fc.boolean() })
    .map((r): Op => ({ op: "set_memory_attributes", vm: "v0", address: r.gpa, size: r.pages * PAGE_SIZE, attributes: r.priv ? ["PRIVATE"] : [] }));

  const slotOp = (s: LayoutSlot, size: number): Op => ({
    op: "set_memory_region",
    vm: "v0",
    slot: s.slot,
    flags: [...s.flags],
    guest_phys_addr: s.gpa,
    memory_size: size,
    userspace: s.userspace,
    userspace_offset: s.userspaceOffset,
    ...(s.gmem === undefined ? {} : { guest_memfd: s.gmem, guest_memfd_offset: s.gmemOffset ?? 0 }),
  });
  const slotChurn = fc.tuple(fc.constantFrom(...slots), fc.boolean()).map(([s, del]) => slotOp(s, del ? 0 : s.size));
  const files = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...l.prelude.filter((o) => o.op === "gmem_mmap")) },
    { weight: 1, arbitrary: mappedGmem.map((g): Op => ({ op: "munmap", map: g.map, offset: 0, len: folio * PAGE_SIZE })) },
    // The whole mapping: after close, the last munmap is what releases the file.
    { weight: 3, arbitrary: mappedGmem.map((g): Op => ({ op: "munmap", map: g.map })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.subarray(["MMAP", "INIT_SHARED"] as const), fc.constantFrom(folio * PAGE_SIZE, PAGE_SIZE))
        .map(([flags, size]): Op => ({ op: "create_gmem", vm: "v0", gmem: "g9", size, flags: [...flags] })),
    },
    { weight: 3, arbitrary: gmem.map((g): Op => ({ op: "close", gmem: g.name })) },
  );

  // Several pages of one range pinned, in either order, then a conversion of the whole range to private: a refusal
  // with two or more busy pages, the lowest pinned last (props/features.ts) must report the lowest.
  const initShared = new Set(l.prelude.flatMap((o) => (o.op === "create_gmem" && o.flags.includes("INIT_SHARED") ? [o.gmem] : [])));
  const pinnable = mapped.filter((g) => initShared.has(g.name));
  const busy = fc.constantFrom(...(pinnable.length > 0 ? pinnable : mapped)).chain((g) =>
    fc.oneof(
      { weight: 2, arbitrary: fc.constantFrom(0, 1, 2).map((page): Op => ({ op: "pin", map: g.map, offset: page * PAGE_SIZE })) },
      { weight: 1, arbitrary: fc.constant<Op>({ op: "gmem_convert", gmem: g.name, offset: 0, size: 4 * PAGE_SIZE, to: "private" }) },
      { weight: 1, arbitrary: fc.constant<Op>({ op: "gmem_convert", gmem: g.name, offset: 0, size: 4 * PAGE_SIZE, to: "shared" }) },
    ),
  );

  // gmem_state over a hot range: the answer is compared between model and impl like any outcome.
  const query = fc
    .record({ g: gmem, pages: fc.constantFrom(1, 2, folio, 2 * folio, 0), skew: fc.constantFrom(0, 0, 0, 0, 0, 1) })
    .chain((r) => pageOf(r.g.size / PAGE_SIZE, folio).map((page) => ({ ...r, page })))
    .map((r): Op => ({ op: "gmem_state", gmem: r.g.name, offset: r.page * PAGE_SIZE + r.skew, size: Math.min(r.pages, r.g.size / PAGE_SIZE - r.page) * PAGE_SIZE }));

  return fc.oneof(
    { weight: 12, arbitrary: convert },
    { weight: 3, arbitrary: query },
    { weight: 8, arbitrary: busy },
    { weight: 4, arbitrary: fallocate },
    { weight: 10, arbitrary: hostAccess },
    { weight: 3, arbitrary: alias },
    { weight: 6, arbitrary: pin },
    { weight: 14, arbitrary: vcpuAccess },
    // The RFC converts through KVM_SET_MEMORY_ATTRIBUTES; v8 keeps that ioctl beside guest_memfd's when it is built.
    { weight: config.gmemDesign === "rfc-2024" ? 12 : config.kernel.memoryAttributes && config.kernel.gmemInPlaceParam === "on" ? 4 : 1, arbitrary: attributes },
    { weight: 2, arbitrary: slotChurn },
    { weight: 3, arbitrary: files },
  );
}
