// The reference VMM of the post-copy flow, driving model and implementation through the Checker, on every backing of
// props/postcopy/backing.ts. It fetches a page by putting the source contents in (UFFDIO_COPY on anonymous memory; a
// write through the second mapping, then UFFDIO_CONTINUE, elsewhere) and then clearing the page's KVM Userfault bit;
// it answers vCPU USERFAULT exits by fetching on demand, answers uffd messages (of its own threads, and of vCPUs whose
// memslot has no KVM Userfault) by fetching and then CONTINUE or a wakeup, fetches the rest in the background, drops
// what the source sends twice, and zero-fills what the balloon gave back. Every read anyone makes is checked against
// the source snapshot and the guest's later writes, and no page's contents go in twice. The seeded VMM mistakes are
// switched at their exact places.
import { PAGE_SIZE } from "../../model/consts.js";
import { bugsOf, type Bugs } from "../../impl/bugs.js";
import type { Config } from "../../schema/config.js";
import type { Op } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import { Checker, PropertyFailure, type Checks } from "../checker.js";
import type { Stats } from "../stats.js";
import { backingOf, isCurrent, offsetsOf, setupFor, usesUserfault, type Backing } from "./backing.js";
import type { PostcopyEvent, PostcopyScenario } from "./scenario.js";

/** The post-copy properties, checked on top of the kernel invariants and refinement. */
export const POSTCOPY_CHECKS = {
  earlyRead: "postcopy-no-early-read",
  reads: "postcopy-reads-expected",
  final: "postcopy-equals-source",
  finish: "postcopy-threads-finish",
  /** A bound of the cost model: no page's contents go in twice (a re-sent page is dropped, a demand fetch claims it). */
  fetchOnce: "postcopy-fetch-once",
} as const;

export type Actor = "setup" | "vcpu" | `vcpu${number}` | "kvm" | "fetcher" | "handler" | `handler${number}` | `vmm-t${number}`;

/** One operation the VMM (or the guest) ran, for the race diagram. */
export interface LogEntry {
  readonly actor: Actor;
  readonly op: Op;
  readonly outcome: Outcome;
}

interface Access {
  readonly write: boolean;
  readonly page: number;
  readonly offset: number;
  readonly byte: number;
}

/**
 * A thread touching guest memory: a VMM thread, a vCPU (whose USERFAULT exit leaves the access `pending`), or the vCPU
 * past the guest's on whose behalf KVM itself copies guest memory (it sleeps in the VMM's userfaultfd, never exits).
 */
interface Toucher {
  readonly id: string;
  access: Access | undefined;
  asleep: boolean;
  pending: boolean;
  /** When it fell asleep: a wakeup retries sleepers in queue order, so their accesses complete in this order. */
  since: number;
}

interface Request {
  readonly page: number;
  readonly uffd: boolean;
}

type Job = (() => Promise<void>)[];

const resultOf = (r: Outcome): string | undefined => ("result" in r ? r.result : undefined);

export class Vmm {
  readonly checker: Checker;
  readonly log: LogEntry[] = [];
  private readonly bugs: Bugs;
  private readonly bugList: readonly string[];
  private readonly backing: Backing;
  private readonly userfault: boolean;
  private readonly claimed: boolean[];
  private readonly written: boolean[];
  private readonly fetched: boolean[];
  /** Pages the balloon gave back: zero until the guest writes them. */
  private readonly removed: boolean[];
  /** Those the VMM heard of (UFFD_EVENT_REMOVE): zero-filled on their next fault, never fetched again. */
  private readonly zeroFill: boolean[];
  /** How often each page's source contents went in (UFFDIO_COPY that placed it, or a write through the alias). */
  private readonly installs: number[];
  /** Bytes the guest (or a VMM thread) stored after the page was fetched: "page:offset" -> byte. */
  private readonly stores = new Map<string, number>();
  private fetchNext = 0;
  private fetcherJob: Job = [];
  private readonly handlerJobs: Job[];
  private readonly requests: Request[][];
  private readonly vcpus: Toucher[];
  private readonly threads = new Map<number, Toucher>();
  private readonly kvmThread: Toucher;
  private sleeps = 0;

  constructor(
    config: Config,
    private readonly sc: PostcopyScenario,
    checks?: Checks,
    private readonly stats?: Stats,
  ) {
    this.backing = backingOf(sc);
    const n = sc.vcpus ?? 1;
    // KVM's own accesses run on one more vCPU than the guest's.
    const kvm = sc.events.some((e) => e.kind === "kvm") ? 1 : 0;
    this.checker = new Checker(this.backing.config({ ...config, vcpus: Math.max(config.vcpus, n + kvm) }), checks, stats);
    this.bugs = bugsOf(config.bugs);
    this.bugList = config.bugs;
    this.userfault = usesUserfault(sc);
    // A page pre-copied with the source's bytes is already right: nothing to fetch, only its mapping to finish.
    const current = sc.source.map((_, p) => isCurrent(sc, p));
    this.claimed = current.map((c) => c && this.backing.fill === "copy");
    this.written = [...current];
    this.fetched = current.map((c) => c && this.backing.fill === "copy");
    this.removed = sc.source.map(() => false);
    this.zeroFill = sc.source.map(() => false);
    this.installs = sc.source.map(() => 0);
    const handlers = sc.handlers === "per-vcpu" ? n : 1;
    this.handlerJobs = Array.from({ length: handlers }, () => []);
    this.requests = Array.from({ length: handlers }, () => []);
    this.vcpus = Array.from({ length: n }, (_, v) => ({ id: `v0.vcpu${v}`, access: undefined, asleep: false, pending: false, since: 0 }));
    this.kvmThread = { id: `v0.vcpu${n}`, access: undefined, asleep: false, pending: false, since: 0 };
  }

  /** The VMM's own counters for the cost model, beside the kernel's (impl/costs.ts). */
  costs(): Record<string, number> {
    return {
      "postcopy.fetches": this.installs.reduce((a, b) => a + b, 0),
      "postcopy.pages_fetched_twice": this.installs.filter((n) => n > 1).length,
    };
  }

  private async apply(actor: Actor, op: Op): Promise<Outcome> {
    await this.checker.apply(op);
    const outcome = this.checker.trace.at(-1)!.model;
    this.log.push({ actor, op, outcome });
    return outcome;
  }

  private fail(property: string, expected: unknown, actual: unknown, detail: string): never {
    throw new PropertyFailure({ property, step: this.checker.ops.length - 1, expected, actual, detail }, [...this.checker.ops]);
  }

  private expected(page: number, offset: number): number {
    return this.stores.get(`${page}:${offset}`) ?? (this.removed[page] ? 0 : this.sc.source[page]!);
  }

  /** A read someone completed: the page must be fetched, and the byte the source's or the latest store's. */
  private checkRead(who: string, a: Access, value: unknown): void {
    if (!this.written[a.page]) this.fail(POSTCOPY_CHECKS.earlyRead, "page fetched first", value, `${who} read page ${a.page} before its fetch wrote it (got ${String(value)})`);
    const want = this.expected(a.page, a.offset);
    if (value !== want) this.fail(POSTCOPY_CHECKS.reads, want, value, `${who} read ${String(value)} at page ${a.page}+${a.offset}, expected ${want}`);
  }

  private completed(who: string, a: Access, value: unknown): void {
    if (a.write) this.stores.set(`${a.page}:${a.offset}`, a.byte);
    else this.checkRead(who, a, value);
  }

  /** Page p's source contents went in once more. */
  private installed(p: number): void {
    this.written[p] = true;
    if (++this.installs[p]! > 1) this.fail(POSTCOPY_CHECKS.fetchOnce, 1, this.installs[p], `page ${p}'s contents went in ${this.installs[p]} times`);
  }

  async setup(): Promise<void> {
    for (const op of setupFor(this.sc, this.bugList)) await this.apply("setup", op);
  }

  private at(p: number): { map: string; offset: number; len: number } {
    return { map: "m0", offset: p * this.backing.unit, len: this.backing.unit };
  }

  /** KVM Userfault: clear page p's bits (every 4 KiB gfn of it; the seeded mistake only the first). */
  private clearStep(p: number, actor: Actor): () => Promise<void> {
    const gfns = this.backing.unit / PAGE_SIZE;
    const npages = this.bugs.has("postcopy-huge-clear-one-gfn") ? 1 : gfns;
    return async () => {
      await this.apply(actor, { op: "userfault_clear", vm: "v0", slot: 0, gfn_offset: p * gfns, npages });
      this.fetched[p] = true;
    };
  }

  /** The steps of fetching page p (or zero-filling it, once the balloon gave it back). */
  private fetchSteps(p: number, actor: Actor): Job {
    const b = this.backing;
    const kvmSlot = b.name.startsWith("gmem") && this.userfault;
    const done = async (): Promise<void> => {
      this.fetched[p] = true;
    };
    const last = this.userfault ? this.clearStep(p, actor) : done;
    if (this.zeroFill[p]) {
      const zero = async (): Promise<void> => {
        await this.apply(actor, { op: "uffdio_zeropage", uffd: "u0", ...this.at(p), mode: [] });
        await this.wakeChecks(p, actor);
      };
      return [zero, last];
    }
    if (b.fill === "copy") {
      // The background fetcher places pages nobody waits for without a wakeup; a handler that then meets EEXIST wakes.
      const copy = async (): Promise<void> => {
        if (b.name === "snapshot-private" && actor !== "fetcher" && this.bugs.has("postcopy-snapshot-hole-zero")) {
          await this.apply(actor, { op: "uffdio_zeropage", uffd: "u0", ...this.at(p), mode: [] });
          this.written[p] = true;
          return this.wakeChecks(p, actor);
        }
        const mode = actor === "fetcher" ? (["DONTWAKE"] as const) : ([] as const);
        const r = await this.apply(actor, { op: "uffdio_copy", uffd: "u0", ...this.at(p), byte: this.sc.source[p]!, mode: [...mode] });
        if (resultOf(r) === "ok") this.installed(p);
        else if ("errno" in r && r.errno === "EEXIST" && actor !== "fetcher" && !this.bugs.has("postcopy-eexist-no-wake")) {
          await this.apply(actor, { op: "uffdio_wake", uffd: "u0", ...this.at(p) });
        }
        // Whoever the copy (or the wakeup) woke ran its access just now, before anything else happens.
        if (actor !== "fetcher") await this.wakeChecks(p, actor);
      };
      return [copy, last];
    }
    const write = async (): Promise<void> => {
      // The pre-copied page is already current: nothing to copy. A page the balloon took meanwhile is not written.
      if (isCurrent(this.sc, p) || this.zeroFill[p]) return;
      await this.apply(actor, { op: "write_alias", map: b.alias!, offset: p * b.unit, byte: this.sc.source[p]!, len: b.unit });
      this.installed(p);
    };
    // A guest_memfd memslot with KVM Userfault maps from the file: no CONTINUE unless a VMM thread waits (handlerJobFor).
    const skipContinue = kvmSlot || (isCurrent(this.sc, p) && this.bugs.has("postcopy-current-no-continue"));
    const cont = async (): Promise<void> => {
      if (skipContinue) return;
      await this.continuePage(p, actor);
      await this.wakeChecks(p, actor);
    };
    if (!kvmSlot) return this.bugs.has("postcopy-clear-before-write") ? [last, write, cont] : [write, cont, last];
    return this.bugs.has("postcopy-clear-before-write") ? [last, write] : [write, last];
  }

  /** Each thread (VMM thread or vCPU) asleep on page p reports what became of its access (wake_check). */
  private async wakeChecks(p: number, actor: Actor): Promise<void> {
    const asleep = this.touchers().filter((t) => t.asleep && t.access?.page === p).sort((a, b) => a.since - b.since);
    for (const t of asleep) {
      const r = await this.apply(t === this.kvmThread ? "kvm" : t.id.startsWith("v0.") ? actor : (`vmm-${t.id}` as Actor), { op: "wake_check", id: t.id });
      this.woke(t, r);
    }
  }

  /** What a wake_check said: done (check it), asleep still, or a vCPU that exits now (its retry met the userfault bit). */
  private woke(t: Toucher, r: Outcome): void {
    const a = t.access!;
    if (resultOf(r) === "completed") {
      t.asleep = false;
      this.completed(this.who(t), a, (r as { value?: unknown }).value);
    } else if (resultOf(r) === "exit") {
      t.asleep = false;
      t.pending = true;
      this.request(this.handlerOf(t), { page: a.page, uffd: false });
    }
  }

  /**
   * UFFDIO_CONTINUE on page p. A handler written for v1's hybrid wakes the range when CONTINUE meets EEXIST: there a
   * fault maps a page the file holds without asking, so another thread's fault may have mapped it while a MISSING
   * sleeper waits (under vm_uffd_ops that page would have raised MINOR, and only CONTINUE maps it).
   */
  private async continuePage(p: number, actor: Actor): Promise<void> {
    const r = await this.apply(actor, { op: "uffdio_continue", uffd: "u0", ...this.at(p), mode: [] });
    if (this.sc.handler === "missing-only" && "errno" in r && r.errno === "EEXIST") await this.apply(actor, { op: "uffdio_wake", uffd: "u0", ...this.at(p) });
  }

  /** UFFDIO_CONTINUE on page p, then the threads asleep there report (the default shape's demand path). */
  private continueStep(p: number, actor: Actor): () => Promise<void> {
    return async () => {
      await this.continuePage(p, actor);
      await this.wakeChecks(p, actor);
    };
  }

  private async fetcherStep(): Promise<boolean> {
    if (this.fetcherJob.length === 0) {
      const order = this.sc.fetchOrder;
      // The background fetcher skips pages a demand fault claimed, unless the seeded mistake makes it fetch them again.
      const skip = (p: number): boolean => (this.claimed[p]! || this.zeroFill[p]!) && !this.bugs.has("postcopy-double-fetch");
      while (this.fetchNext < order.length && skip(order[this.fetchNext]!)) this.fetchNext++;
      if (this.fetchNext >= order.length) return false;
      const p = order[this.fetchNext++]!;
      this.claimed[p] = true;
      this.fetcherJob = this.fetchSteps(p, "fetcher");
    }
    await this.fetcherJob.shift()!();
    return true;
  }

  /**
   * A demand request. A USERFAULT exit: fetch unless someone claimed the page. A uffd message: on anonymous memory
   * UFFDIO_COPY whatever the state (EEXIST says another thread placed it, and the handler wakes); elsewhere fetch
   * unless claimed, wait for that fetch, then CONTINUE (the default shape) or just collect the woken threads.
   */
  private handlerJobFor(r: Request, actor: Actor, job: Job): Job {
    const p = r.page;
    const claim = (): Job => (this.claimed[p] ? [] : ((this.claimed[p] = true), this.fetchSteps(p, actor)));
    if (!r.uffd) return this.bugs.has("postcopy-fetch-twice-on-exit") && !this.fetched[p] ? this.fetchSteps(p, actor) : claim();
    const collect = async (): Promise<void> => this.wakeChecks(p, actor);
    if (this.backing.fill === "copy") {
      // UFFDIO_COPY whatever the state: the kernel's EEXIST is the check that another thread placed it.
      this.claimed[p] = true;
      return this.fetchSteps(p, actor);
    }
    const fetch = claim();
    // Wait for whoever claimed the page; a page the balloon took meanwhile is no longer coming (its next fault zero-fills it).
    const waitFetched = async (): Promise<void> => {
      if (!this.fetched[p] && !this.zeroFill[p]) job.unshift(waitFetched);
    };
    const defaultShape = this.backing.name === "gmem" && this.userfault;
    const finish = this.backing.name.startsWith("gmem") && this.userfault ? this.continueStep(p, actor) : collect;
    if (defaultShape && this.bugs.has("postcopy-continue-before-write")) return [this.continueStep(p, actor), ...fetch];
    return [...fetch, waitFetched, finish];
  }

  private handlerName(h: number): Actor {
    return this.handlerJobs.length === 1 ? "handler" : `handler${h}`;
  }

  private async handlerStep(h: number): Promise<boolean> {
    const job = this.handlerJobs[h]!;
    if (job.length === 0) {
      const r = this.requests[h]!.shift();
      if (r === undefined) return false;
      job.push(...this.handlerJobFor(r, this.handlerName(h), job));
      if (job.length === 0) return true;
    }
    await job.shift()!();
    return true;
  }

  private handlerOf(t: Toucher): number {
    if (this.handlerJobs.length === 1) return 0;
    if (t === this.kvmThread) return this.vcpus.length % this.handlerJobs.length;
    const v = this.vcpus.indexOf(t);
    return v >= 0 ? v : Number(t.id.slice(1)) % this.handlerJobs.length;
  }

  private touchers(): Toucher[] {
    return [...this.vcpus, ...this.threads.values(), this.kvmThread];
  }

  private who(t: Toucher): string {
    if (t === this.kvmThread) return `KVM's own access (vCPU ${this.vcpus.length})`;
    if (t.id.startsWith("v0.")) return this.vcpus.length === 1 ? "the guest" : `vCPU ${t.id}`;
    return `VMM thread ${t.id}`;
  }

  private request(h: number, r: Request): void {
    const q = this.requests[h]!;
    if (!q.some((x) => x.page === r.page && x.uffd === r.uffd)) q.push(r);
  }

  /** One access by a vCPU or a VMM thread: a sleeper only reports, an exited vCPU retries its access. */
  private async touch(t: Toucher, a: Access, actor: Actor, op: (a: Access) => Op): Promise<void> {
    if (t.asleep) return this.woke(t, await this.apply(actor, { op: "wake_check", id: t.id }));
    const access = t.pending ? t.access! : a;
    t.access = access;
    const r = await this.apply(actor, op(access));
    const who = this.who(t);
    if (resultOf(r) === "ok") {
      t.pending = false;
      this.completed(who, access, (r as { value?: unknown }).value);
    } else if (resultOf(r) === "exit" && (r as { flags?: readonly string[] }).flags?.includes("USERFAULT") === true) {
      t.pending = true;
      this.request(this.handlerOf(t), { page: access.page, uffd: false });
    } else if (resultOf(r) === "blocked") {
      t.pending = false;
      t.asleep = true;
      t.since = this.sleeps++;
      this.request(this.handlerOf(t), { page: access.page, uffd: true });
    } else this.fail(POSTCOPY_CHECKS.reads, "ok, a USERFAULT exit or asleep on a userfault", r, `${who}'s access to page ${access.page} returned ${JSON.stringify(r)}`);
  }

  private guest(v: number, a: Access): Promise<void> {
    const u = this.backing.unit;
    const actor: Actor = this.vcpus.length === 1 ? "vcpu" : `vcpu${v}`;
    return this.touch(this.vcpus[v]!, a, actor, (x) => ({ op: "vcpu_access", vm: "v0", vcpu: v, gpa: x.page * u + x.offset, kind: x.write ? "write" : "read", ...(x.write ? { byte: x.byte } : {}) }));
  }

  private vmmThread(n: number, a: Access): Promise<void> {
    const t = this.threads.get(n) ?? { id: `t${n}`, access: undefined, asleep: false, pending: false, since: 0 };
    this.threads.set(n, t);
    const u = this.backing.unit;
    return this.touch(t, a, `vmm-${t.id}` as Actor, (x) => ({ op: "access", map: "m0", offset: x.page * u + x.offset, kind: x.write ? "write" : "read", id: t.id, ...(x.write ? { byte: x.byte } : {}) }));
  }

  /**
   * KVM copies guest memory for its vCPU through the hva (kvm_vcpu_read_guest, the emulator's load or store, an
   * instruction fetch): KVM Userfault does not see it; it completes, or sleeps in the VMM's userfaultfd until filled.
   */
  private kvm(e: Extract<PostcopyEvent, { kind: "kvm" }>): Promise<void> {
    const u = this.backing.unit;
    const vcpu = this.vcpus.length;
    const kind = e.how === "fetch" ? "exec" : e.write ? "write" : "read";
    return this.touch(this.kvmThread, e, "kvm", (x) => ({
      op: "kvm_access",
      vm: "v0",
      vcpu,
      gpa: x.page * u + x.offset,
      kind,
      ...(x.write ? { byte: x.byte } : {}),
      ...(e.how === "emulate" ? { emulate: true } : {}),
    }));
  }

  /** The source sends page p again: dropped once the page is claimed (a COPY would meet EEXIST), else it is the fetch. */
  private async resend(p: number): Promise<void> {
    if (this.zeroFill[p]) return;
    if (this.claimed[p]) {
      if (!this.bugs.has("postcopy-resend-overwrites")) return;
      const b = this.backing;
      if (b.fill === "copy") await this.apply("fetcher", { op: "uffdio_copy", uffd: "u0", ...this.at(p), byte: this.sc.source[p]!, mode: ["DONTWAKE"] });
      else {
        await this.apply("fetcher", { op: "write_alias", map: b.alias!, offset: p * b.unit, byte: this.sc.source[p]!, len: b.unit });
        this.installed(p);
      }
      return;
    }
    this.claimed[p] = true;
    for (const step of this.fetchSteps(p, "fetcher")) await step();
  }

  /**
   * The balloon takes page p back (the guest freed it, so nobody is using it): the madvise, and UFFD_EVENT_REMOVE
   * telling the VMM, which then zero-fills the page instead of fetching it. The seeded mistake ignores the event.
   */
  private async balloon(p: number): Promise<void> {
    const advice = this.backing.balloon;
    if (advice === undefined || this.removed[p]) return;
    if (this.touchers().some((t) => (t.asleep || t.pending) && t.access?.page === p)) return;
    const { map, offset, len } = this.at(p);
    await this.apply("handler", { op: "madvise", map, offset, len, advice });
    for (const key of [...this.stores.keys()]) if (key.startsWith(`${p}:`)) this.stores.delete(key);
    this.removed[p] = true;
    this.written[p] = true;
    if (this.bugs.has("postcopy-remove-ignored")) return;
    // Unclaimed again: the next fault's handler claims it and zero-fills it (the background fetcher skips it).
    this.zeroFill[p] = true;
    this.claimed[p] = false;
    this.fetched[p] = false;
  }

  async event(e: PostcopyEvent): Promise<void> {
    if (e.kind === "guest") return this.guest(e.vcpu ?? 0, e);
    if (e.kind === "vmm") return this.vmmThread(e.thread, e);
    if (e.kind === "kvm") return this.kvm(e);
    if (e.kind === "resend") return this.resend(e.page);
    if (e.kind === "balloon") return this.balloon(e.page);
    if (e.kind === "fetcher") await this.fetcherStep();
    else await this.handlerStep((e.thread ?? 0) % this.handlerJobs.length);
  }

  /** Runs the VMM to the end of the migration: every page fetched, every request answered, every access done. */
  async drain(): Promise<void> {
    // A vCPU that keeps exiting once everything is fetched would retry forever: two rounds without progress end it.
    let idle = 0;
    for (let n = 0; n < 40 * this.sc.pages + 40 && idle < 2; n++) {
      let busy = false;
      for (let h = 0; h < this.handlerJobs.length; h++) busy = (await this.handlerStep(h)) || busy;
      busy = (await this.fetcherStep()) || busy;
      if (busy) continue;
      const pending = this.vcpus.filter((t) => t.pending);
      if (pending.length === 0) break;
      const before = this.fetched.filter(Boolean).length;
      for (const t of pending) await this.guest(this.vcpus.indexOf(t), t.access!);
      idle = this.vcpus.filter((t) => t.pending).length === pending.length && this.fetched.filter(Boolean).length === before ? idle + 1 : 0;
    }
    for (const t of this.touchers()) {
      const who = this.who(t);
      if (t.asleep) this.fail(POSTCOPY_CHECKS.finish, "every thread ran", "asleep", `${who} still sleeps on page ${t.access?.page} after every page was fetched`);
      if (t.pending) this.fail(POSTCOPY_CHECKS.finish, "the guest ran", "exits", `${who}'s access to page ${t.access?.page} still exits after every page was fetched`);
    }
  }

  /** When every page is fetched, guest memory is the source overlaid with the guest's own later stores. */
  async checkFinal(): Promise<void> {
    const b = this.backing;
    // Anonymous memory has no second mapping: the migration ends by unregistering, then the VMM reads m0 itself.
    if (b.fill === "copy") await this.apply("fetcher", { op: "uffd_unregister", uffd: "u0", map: "m0", offset: 0, len: this.sc.pages * b.unit });
    for (let p = 0; p < this.sc.pages; p++) {
      for (const o of offsetsOf(b)) {
        const offset = p * b.unit + o;
        const op: Op = b.fill === "copy" ? { op: "access", map: "m0", offset, kind: "read", id: "final" } : { op: "read_alias", map: b.alias!, offset };
        const r = await this.apply("fetcher", op);
        const got = "value" in r ? r.value : undefined;
        const want = this.expected(p, o);
        if (got !== want) this.fail(POSTCOPY_CHECKS.final, want, got, `after the migration page ${p}+${o} holds ${String(got)}, the source (or the guest's last store) is ${want}`);
      }
    }
  }

  /** The whole scenario: setup, the interleaved events, the end of the migration, the final comparison. */
  async run(): Promise<void> {
    try {
      await this.setup();
      for (const e of this.sc.events) await this.event(e);
      await this.drain();
      await this.checkFinal();
    } finally {
      if (this.stats !== undefined) for (const [k, v] of Object.entries(this.costs())) this.stats.recordCost(k, v);
    }
  }
}
