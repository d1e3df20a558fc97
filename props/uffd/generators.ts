// Operation generators for the userfaultfd suites: registrations, thread accesses that sleep, alias writes and
// the resolving ioctls, all aimed at a few hot pages so that faults get resolved, woken and raced with
// punch-hole and MADV_DONTNEED; plus edge values for every errno rule.
import fc from "fast-check";
import { PAGE_SIZE } from "../../model/consts.js";
import type { Op, UffdModeName } from "../../schema/ops.js";
import type { UffdLayout, UffdMap } from "./layouts.js";

const P = PAGE_SIZE;
const IDS = ["a0", "a1", "a2"] as const;
const byte = fc.integer({ min: 1, max: 255 });

/** A page of a mapping: mostly hot ones, sometimes any, sometimes one off a huge page. */
const pageIn = (m: UffdMap): fc.Arbitrary<number> =>
  fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...m.hot) }, { weight: 1, arbitrary: fc.nat({ max: m.pages }) }, { weight: m.unit > 1 ? 1 : 0, arbitrary: fc.constant(1) });

/** A length in pages: whole huge pages mostly, with the edge values validate_range refuses. */
const lenIn = (m: UffdMap): fc.Arbitrary<number> =>
  fc.oneof(
    { weight: 10, arbitrary: fc.constantFrom(1, 1, 1, 2, 3).map((n) => n * m.unit * P) },
    { weight: 1, arbitrary: fc.constantFrom(0, 1, P + 1, 2 ** 46, m.unit > 1 ? P : 2 * P) },
  );

/** A byte offset: page aligned, rarely one byte off. */
const offsetIn = (m: UffdMap): fc.Arbitrary<number> => fc.tuple(pageIn(m), fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) })).map(([p, d]) => p * P + d);

export function uffdOps(l: UffdLayout): fc.Arbitrary<Op> {
  const map = fc.constantFrom(...l.maps);
  const uffd = fc.oneof({ weight: 12, arbitrary: fc.constant(l.uffds[0]!) }, { weight: 2, arbitrary: fc.constantFrom(...l.uffds) }, { weight: 1, arbitrary: fc.constant("u9") });
  const range = map.chain((m) => fc.record({ map: fc.constant(m.id), offset: offsetIn(m), len: lenIn(m) }));
  const inPage = fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(1, 123, 4095) });
  const id = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...IDS) }, { weight: 1, arbitrary: fc.constant(undefined) });

  const register = fc.tuple(uffd, range, fc.constantFrom(...l.modes), fc.boolean()).map(
    ([u, r, mode, empty]): Op => ({ op: "uffd_register", uffd: u, ...r, mode: empty && r.offset === 0 ? [] : [...(mode as UffdModeName[])] }),
  );
  const unregister = fc.tuple(uffd, range).map(([u, r]): Op => ({ op: "uffd_unregister", uffd: u, ...r }));
  const access = fc
    .tuple(map.chain((m) => fc.tuple(fc.constant(m.id), pageIn(m))), inPage, fc.constantFrom("read", "write"), byte, id)
    .map(([[m, p], off, kind, b, i]): Op => ({ op: "access", map: m, offset: p * P + off, kind, ...(kind === "write" ? { byte: b } : {}), ...(i === undefined ? {} : { id: i }) }));
  const aliasMaps = l.maps.filter((m) => m.alias);
  const alias =
    aliasMaps.length === 0
      ? undefined
      : fc
          .tuple(fc.constantFrom(...aliasMaps).chain((m) => fc.tuple(fc.constant(m.id), pageIn(m))), inPage, byte, fc.boolean(), fc.constantFrom(...l.aliasLens))
          .map(([[m, p], off, b, write, len]): Op => (write ? { op: "write_alias", map: m, offset: p * P + off, byte: b, ...(len > 1 ? { len } : {}) } : { op: "read_alias", map: m, offset: p * P + off }));
  const fillMode = fc.oneof({ weight: 6, arbitrary: fc.constant([] as const) }, { weight: 2, arbitrary: fc.constant(["DONTWAKE"] as const) }, { weight: 2, arbitrary: fc.constant(["WP"] as const) });
  const mfill = fc
    .tuple(fc.constantFrom("uffdio_continue", "uffdio_continue", "uffdio_continue", "uffdio_copy", "uffdio_copy", "uffdio_zeropage", "uffdio_poison"), uffd, range, fillMode, byte)
    .map(([op, u, r, mode, b]): Op => ({ op, uffd: u, ...r, ...(mode.length > 0 ? { mode: [...mode] } : {}), ...(op === "uffdio_copy" ? { byte: b } : {}) }) as Op);
  const wpMode = fc.constantFrom([] as const, ["WP"] as const, ["WP"] as const, ["DONTWAKE"] as const, ["WP", "DONTWAKE"] as const);
  const writeprotect = fc.tuple(uffd, range, wpMode).map(([u, r, mode]): Op => ({ op: "uffdio_writeprotect", uffd: u, ...r, mode: [...mode] }));
  const wake = fc.tuple(uffd, range).map(([u, r]): Op => ({ op: "uffdio_wake", uffd: u, ...r }));
  const wakeCheck = fc.constantFrom(...IDS, "v0.vcpu0", "a9").map((i): Op => ({ op: "wake_check", id: i }));
  const madvise = fc
    .tuple(map.chain((m) => fc.tuple(fc.constant(m), pageIn(m))), fc.constantFrom("DONTNEED", "DONTNEED", "REMOVE"))
    .map(([[m, p], advice]): Op => ({ op: "madvise", map: m.id, offset: Math.floor(p / m.unit) * m.unit * P, len: m.unit * P, advice }));
  const unmap = map.map((m): Op => ({ op: "munmap", map: m.id, offset: m.unit * P, len: m.unit * P }));
  const remap = fc.constantFrom(...l.maps.map((m) => m.create));
  const reopen = fc.tuple(fc.constantFrom(...l.uffds), fc.constantFrom(...l.features), fc.boolean()).chain(([u, f, userOnly]) =>
    fc.constantFrom<Op>({ op: "close", uffd: u }, { op: "uffd_open", uffd: u, features: [...f], ...(userOnly ? { flags: ["USER_MODE_ONLY" as const] } : {}) }),
  );
  const files =
    l.files.length === 0
      ? undefined
      : fc.tuple(fc.constantFrom(...l.files), fc.nat({ max: 6 }), byte, fc.boolean()).map(([f, p, b, punch]): Op =>
          punch ? { op: "file_fallocate", file: f, mode: ["PUNCH_HOLE", "KEEP_SIZE"], offset: (l.maps[0]!.unit > 1 ? 0 : p) * P, len: l.maps[0]!.unit * P } : { op: "pwrite", file: f, offset: p * P + 7, byte: b, len: 1 },
        );
  const punch = (g: string, p: number): Op => ({ op: "gmem_fallocate", gmem: g, mode: ["PUNCH_HOLE", "KEEP_SIZE"], offset: p * P, len: P });
  const convert = (g: string, p: number, priv: boolean): Op => ({ op: "gmem_convert", gmem: g, offset: p * P, size: P, to: priv ? "private" : "shared" });
  const gmems =
    l.gmems.length === 0
      ? undefined
      : fc
          .tuple(fc.constantFrom(...l.gmems), fc.nat({ max: 4 }), fc.nat({ max: l.converts === true ? 3 : 0 }))
          .map(([g, p, kind]): Op => (kind === 0 ? punch(g, p) : convert(g, p, kind !== 3)));
  const vcpu =
    l.gpas.length === 0
      ? undefined
      : fc.tuple(fc.constantFrom(...l.gpas), fc.constantFrom("read", "write"), byte).map(([gpa, kind, b]): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: gpa + 5, kind, ...(kind === "write" ? { byte: b } : {}) }));

  const arbs: { weight: number; arbitrary: fc.Arbitrary<Op> }[] = [
    { weight: 8, arbitrary: register },
    { weight: 2, arbitrary: unregister },
    { weight: 14, arbitrary: access },
    { weight: 16, arbitrary: mfill },
    { weight: 4, arbitrary: writeprotect },
    { weight: 3, arbitrary: wake },
    { weight: 3, arbitrary: wakeCheck },
    { weight: 3, arbitrary: madvise },
    { weight: 1, arbitrary: unmap },
    { weight: 1, arbitrary: remap },
    { weight: 2, arbitrary: reopen },
  ];
  if (alias !== undefined) arbs.push({ weight: 10, arbitrary: alias });
  if (files !== undefined) arbs.push({ weight: 3, arbitrary: files });
  if (gmems !== undefined) arbs.push({ weight: l.converts === true ? 6 : 2, arbitrary: gmems });
  if (vcpu !== undefined) arbs.push({ weight: 5, arbitrary: vcpu });
  return fc.oneof(...arbs);
}
