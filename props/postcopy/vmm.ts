// The reference VMM of the post-copy flow, driving model and implementation through the Checker: it fetches a
// page by writing the source contents through its alias mapping and then clearing the page's KVM Userfault bit,
// answers vCPU USERFAULT exits by fetching on demand, answers uffd messages of its own threads by fetching and
// then UFFDIO_CONTINUE, and fetches the rest in the background. Every read anyone makes is checked against the
// source snapshot and the guest's later writes. The seeded VMM mistakes are switched at their exact places.
import { PAGE_SIZE } from "../../model/consts.js";
import { bugsOf, type Bugs } from "../../impl/bugs.js";
import type { Config } from "../../schema/config.js";
import type { Op } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import { Checker, PropertyFailure, type Checks } from "../checker.js";
import type { Stats } from "../stats.js";
import { OFFSETS, setupOps, type PostcopyEvent, type PostcopyScenario } from "./scenario.js";

/** The post-copy properties, checked on top of the kernel invariants and refinement. */
export const POSTCOPY_CHECKS = {
  earlyRead: "postcopy-no-early-read",
  reads: "postcopy-reads-expected",
  final: "postcopy-equals-source",
  finish: "postcopy-threads-finish",
} as const;

export type Actor = "setup" | "vcpu" | "kvm" | "fetcher" | "handler" | `vmm-t${number}`;

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

/** A thread that can sleep on a userfault: a VMM thread, or vCPU 1 while KVM copies guest memory for it. */
interface VmmThread {
  readonly id: string;
  readonly actor: Actor;
  access: Access | undefined;
  asleep: boolean;
  /** When it went to sleep: a wakeup retries the sleepers in this (wait-queue) order. */
  sleptAt?: number;
}

type Job = (() => Promise<void>)[];

export class Vmm {
  readonly checker: Checker;
  readonly log: LogEntry[] = [];
  private readonly bugs: Bugs;
  private readonly claimed: boolean[];
  private readonly written: boolean[];
  private readonly fetched: boolean[];
  /** Bytes the guest (or a VMM thread) stored after the page was fetched: "page:offset" -> byte. */
  private readonly stores = new Map<string, number>();
  private fetchNext = 0;
  private fetcherJob: Job = [];
  private handlerJob: Job = [];
  private readonly requests: { page: number; uffd: boolean }[] = [];
  private vcpuPending: Access | undefined;
  private readonly threads = new Map<number, VmmThread>();
  /** KVM's own accesses run on vCPU 1 (its thread is "v0.vcpu1"), apart from the guest's vCPU 0. */
  private readonly kvmThread: VmmThread = { id: "v0.vcpu1", actor: "kvm", access: undefined, asleep: false };

  constructor(
    config: Config,
    private readonly sc: PostcopyScenario,
    checks?: Checks,
    stats?: Stats,
  ) {
    this.checker = new Checker(config, checks, stats);
    this.bugs = bugsOf(config.bugs);
    this.claimed = sc.source.map(() => false);
    this.written = sc.source.map(() => false);
    this.fetched = sc.source.map(() => false);
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
    return this.stores.get(`${page}:${offset}`) ?? this.sc.source[page]!;
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

  async setup(): Promise<void> {
    for (const op of setupOps(this.sc, this.bugs)) await this.apply("setup", op);
  }

  /** The steps of fetching page p: contents through the alias, then the userfault bit. */
  private fetchSteps(p: number, actor: "fetcher" | "handler"): Job {
    const write = async (): Promise<void> => {
      await this.apply(actor, { op: "write_alias", map: "m0", offset: p * PAGE_SIZE, byte: this.sc.source[p]!, len: PAGE_SIZE });
      this.written[p] = true;
    };
    const clear = async (): Promise<void> => {
      await this.apply(actor, { op: "userfault_clear", vm: "v0", slot: 0, gfn_offset: p, npages: 1 });
      this.fetched[p] = true;
    };
    return this.bugs.has("postcopy-clear-before-write") ? [clear, write] : [write, clear];
  }

  /** UFFDIO_CONTINUE on page p, then each VMM thread asleep there reports what it did (wake_check). */
  private continueStep(p: number): () => Promise<void> {
    return async () => {
      await this.apply("handler", { op: "uffdio_continue", uffd: "u0", map: "m0", offset: p * PAGE_SIZE, len: PAGE_SIZE });
      const woken = [...this.threads.values(), this.kvmThread].filter((t) => t.asleep && t.access?.page === p);
      for (const t of woken.sort((a, b) => (a.sleptAt ?? 0) - (b.sleptAt ?? 0))) {
        if (t.access === undefined) continue;
        const r = await this.apply(t.actor, { op: "wake_check", id: t.id });
        if ("result" in r && r.result === "completed") {
          t.asleep = false;
          this.completed(this.who(t), t.access, r.value);
        } else if ("result" in r && r.result !== "blocked") this.fail(POSTCOPY_CHECKS.reads, "completed or asleep", r, `${this.who(t)}'s access to page ${p} ended ${JSON.stringify(r)}`);
      }
    };
  }

  private async fetcherStep(): Promise<boolean> {
    if (this.fetcherJob.length === 0) {
      const order = this.sc.fetchOrder;
      // The background fetcher skips pages a demand fault claimed, unless the seeded mistake makes it fetch them again.
      while (this.fetchNext < order.length && this.claimed[order[this.fetchNext]!] && !this.bugs.has("postcopy-double-fetch")) this.fetchNext++;
      if (this.fetchNext >= order.length) return false;
      const p = order[this.fetchNext++]!;
      this.claimed[p] = true;
      this.fetcherJob = this.fetchSteps(p, "fetcher");
    }
    await this.fetcherJob.shift()!();
    return true;
  }

  /** A demand request: fetch the page unless someone claimed it; a uffd message is then answered with CONTINUE. */
  private handlerJobFor(r: { page: number; uffd: boolean }): Job {
    const p = r.page;
    const fetch = this.claimed[p] ? [] : ((this.claimed[p] = true), this.fetchSteps(p, "handler"));
    if (!r.uffd) return fetch;
    if (this.bugs.has("postcopy-continue-before-write")) return [this.continueStep(p), ...fetch];
    const waitFetched = async (): Promise<void> => {
      if (!this.fetched[p]) this.handlerJob.unshift(waitFetched);
    };
    return [...fetch, waitFetched, this.continueStep(p)];
  }

  private async handlerStep(): Promise<boolean> {
    if (this.handlerJob.length === 0) {
      const r = this.requests.shift();
      if (r === undefined) return false;
      this.handlerJob = this.handlerJobFor(r);
      if (this.handlerJob.length === 0) return true;
    }
    await this.handlerJob.shift()!();
    return true;
  }

  private request(page: number, uffd: boolean): void {
    if (!this.requests.some((r) => r.page === page && r.uffd === uffd)) this.requests.push({ page, uffd });
  }

  private async guest(a: Access): Promise<void> {
    const access = this.vcpuPending ?? a;
    const r = await this.apply("vcpu", { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: access.page * PAGE_SIZE + access.offset, kind: access.write ? "write" : "read", ...(access.write ? { byte: access.byte } : {}) });
    if ("result" in r && r.result === "ok") {
      this.vcpuPending = undefined;
      this.completed("the guest", access, r.value);
    } else if ("result" in r && r.result === "exit" && r.flags?.includes("USERFAULT") === true) {
      this.vcpuPending = access;
      this.request(access.page, false);
    } else this.fail(POSTCOPY_CHECKS.reads, "ok or a USERFAULT exit", r, `the guest's access to page ${access.page} returned ${JSON.stringify(r)}`);
  }

  private sleeps = 0;

  private sleep(t: VmmThread): void {
    t.asleep = true;
    t.sleptAt = this.sleeps++;
  }

  private who(t: VmmThread): string {
    return t === this.kvmThread ? "KVM's own access (vCPU 1)" : `VMM thread ${t.id}`;
  }

  /** KVM copies guest memory for vCPU 1: it completes, or vCPU 1 sleeps in the VMM's userfaultfd until CONTINUE. */
  private async kvm(e: Extract<PostcopyEvent, { kind: "kvm" }>): Promise<void> {
    const t = this.kvmThread;
    if (t.asleep) return;
    t.access = e;
    const gpa = e.page * PAGE_SIZE + e.offset;
    const kind = e.how === "fetch" ? "exec" : e.write ? "write" : "read";
    const r = await this.apply("kvm", { op: "kvm_access", vm: "v0", vcpu: 1, gpa, kind, ...(e.write ? { byte: e.byte } : {}), ...(e.how === "emulate" ? { emulate: true } : {}) });
    if ("result" in r && r.result === "ok") this.completed(this.who(t), e, r.value);
    else if ("result" in r && r.result === "blocked") {
      this.sleep(t);
      this.request(e.page, true);
    } else this.fail(POSTCOPY_CHECKS.reads, "ok or asleep on a userfault", r, `KVM's ${e.how} of page ${e.page} for vCPU 1 returned ${JSON.stringify(r)}`);
  }

  private async vmmThread(n: number, a: Access): Promise<void> {
    const t = this.threads.get(n) ?? { id: `t${n}`, actor: `vmm-t${n}` as Actor, access: undefined, asleep: false };
    this.threads.set(n, t);
    if (t.asleep) return;
    t.access = a;
    const r = await this.apply(`vmm-${t.id}` as Actor, { op: "access", map: "m0", offset: a.page * PAGE_SIZE + a.offset, kind: a.write ? "write" : "read", id: t.id, ...(a.write ? { byte: a.byte } : {}) });
    if ("result" in r && r.result === "ok") this.completed(`VMM thread ${t.id}`, a, r.value);
    else if ("result" in r && r.result === "blocked") {
      this.sleep(t);
      this.request(a.page, true);
    } else this.fail(POSTCOPY_CHECKS.reads, "ok or asleep on a userfault", r, `VMM thread ${t.id}'s access to page ${a.page} returned ${JSON.stringify(r)}`);
  }

  async event(e: PostcopyEvent): Promise<void> {
    if (e.kind === "guest") return this.guest(e);
    if (e.kind === "vmm") return this.vmmThread(e.thread, e);
    if (e.kind === "kvm") return this.kvm(e);
    if (e.kind === "fetcher") await this.fetcherStep();
    else await this.handlerStep();
  }

  /** Runs the VMM to the end of the migration: every page fetched, every request answered, every access done. */
  async drain(): Promise<void> {
    for (let n = 0; n < 40 * this.sc.pages + 40; n++) {
      const handled = await this.handlerStep();
      const fetched = await this.fetcherStep();
      if (handled || fetched) continue;
      if (this.vcpuPending !== undefined) await this.guest(this.vcpuPending);
      else break;
    }
    for (const t of [...this.threads.values(), this.kvmThread]) {
      if (t.asleep) this.fail(POSTCOPY_CHECKS.finish, "every VMM thread ran", "asleep", `${this.who(t)} still sleeps on page ${t.access?.page} after every page was fetched`);
    }
    if (this.vcpuPending !== undefined) this.fail(POSTCOPY_CHECKS.finish, "the guest ran", "exits", `the guest's access to page ${this.vcpuPending.page} still exits after every page was fetched`);
  }

  /** When every page is fetched, guest memory is the source overlaid with the guest's own later stores. */
  async checkFinal(): Promise<void> {
    for (let p = 0; p < this.sc.pages; p++) {
      for (const o of OFFSETS) {
        const r = await this.apply("fetcher", { op: "read_alias", map: "m0", offset: p * PAGE_SIZE + o });
        const got = "value" in r ? r.value : undefined;
        const want = this.expected(p, o);
        if (got !== want) this.fail(POSTCOPY_CHECKS.final, want, got, `after the migration page ${p}+${o} holds ${String(got)}, the source (or the guest's last store) is ${want}`);
      }
    }
  }

  /** The whole scenario: setup, the interleaved events, the end of the migration, the final comparison. */
  async run(): Promise<void> {
    await this.setup();
    for (const e of this.sc.events) await this.event(e);
    await this.drain();
    await this.checkFinal();
  }
}
