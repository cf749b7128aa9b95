import type { Logger } from "@herald/runtime";
import { isWrongRevision, readCurrent } from "@herald/bus";
import type { Bus } from "@herald/bus";
import { KvWatchInclude } from "@nats-io/kv";
import type { KV, KvEntry } from "@nats-io/kv";
import { kitKeys } from "./checkpoint.js";
import type { LeaseView } from "./partition.js";

export interface OwnershipOptions {
  bus: Bus;
  /** The bucket's name, and the bucket opened. */
  bucket: string;
  kv: KV;
  /** The projection's name: lease.<name>.<p>, member.<name>.<instance>. */
  name: string;
  instanceId: string;
  partitions: number;
  /** How long a lease or membership lasts without renewal (default 10 s). */
  leaseMs: number;
  log: Logger;
  /** A partition became ours: start it. */
  acquired(partition: number, lease: LeaseView): void;
  /** A partition stops being ours: with `handover` write what is gathered first; resolves once stopped. */
  released(partition: number, handover: boolean): Promise<void>;
}

interface Seen {
  revision: number;
  /** Local monotonic time at which this revision was first seen. */
  since: number;
  owner: string | undefined;
  deleted: boolean;
}

interface Held {
  revision: number;
  /** Local monotonic time at which the write that gave `revision` was sent. */
  renewedAt: number;
  /** Which claim this is: a lease view is valid only for the claim it was given with. */
  claim: number;
}

/** An owner stops writing this far into its lease: the others wait the whole lease from a later instant. */
const VALID_FRACTION = 0.8;

/**
 * Partition ownership from KV compare-and-set, on nats-server 2.9 primitives.
 *
 * Every replica keeps member.<name>.<instance> fresh and watches the members and the leases.
 * Time is judged only by the local monotonic clock, never by another machine's: a lease or a
 * member is dead when its revision has not changed for leaseMs since this replica first saw it.
 * Each replica aims at its fair share, ceil(partitions / live members): it releases what it holds
 * beyond that (after writing what it gathered), and claims free or dead leases while below it.
 * A claim and every renewal are compare-and-set on the lease's revision (a claim on the revision it
 * judged dead, never a later one), so two replicas never both succeed; an owner whose renewal
 * fails, or that has not renewed within leaseMs of sending its last renewal (a pause, a partition
 * from NATS), stops writing at once. The checkpoint's own
 * compare-and-set fences the rest (see PartitionRunner).
 */
export class Ownership {
  private readonly leases = new Map<number, Seen>();
  private readonly members = new Map<string, Seen>();
  private readonly held = new Map<number, Held>();
  private readonly releasing = new Set<number>();
  private memberRevision = 0;
  private memberRenewedAt = -Infinity;
  private stopped = false;
  private readonly stops: (() => void)[] = [];
  private tickTimer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();
  private claims = 0;

  constructor(private readonly opts: OwnershipOptions) {}

  /** Partitions this replica owns now. */
  owned(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  /** Live members as this replica sees them (itself included). */
  liveMembers(): string[] {
    const now = performance.now();
    const live = [...this.members].filter(([, s]) => !s.deleted && now - s.since < this.opts.leaseMs);
    const ids = new Set(live.map(([key]) => key.slice(key.lastIndexOf(".") + 1)));
    ids.add(this.opts.instanceId);
    return [...ids].sort();
  }

  /** Whether the runner of a claim may still write. */
  valid(p: number, claim: number): boolean {
    const held = this.held.get(p);
    return (
      held !== undefined &&
      held.claim === claim &&
      performance.now() - held.renewedAt < this.opts.leaseMs * VALID_FRACTION
    );
  }

  async start(): Promise<void> {
    const { name, log } = this.opts;
    // A bucket just made (a new cluster electing its leaders) may not answer yet: keep asking.
    for (let failures = 0; ; failures++) {
      try {
        await this.renewMember();
        break;
      } catch (err) {
        if (this.stopped) return;
        const pauseMs = Math.min(5_000, 200 * 2 ** failures);
        log.warn({ err, pauseMs }, "could not join the members yet; trying again");
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
    }
    for (const [filter, into] of [
      [kitKeys.members(name), this.members],
      [kitKeys.leases(name), this.leases],
    ] as const) {
      await this.follow(filter, into);
    }
    this.schedule(0);
  }

  /**
   * Follows the keys of a filter: a watch of updates started before a listing (so nothing written
   * in between is missed), started again whenever it ends, which a KV watch may do without an
   * error under a burst. Resolves once the first listing is in, so the first round already knows
   * every member and lease.
   */
  private async follow(filter: string, into: Map<string, Seen> | Map<number, Seen>): Promise<void> {
    const { kv, log } = this.opts;
    let listed!: () => void;
    const firstListing = new Promise<void>((resolve) => (listed = resolve));
    void (async () => {
      while (!this.stopped) {
        try {
          const watch = await kv.watch({ key: filter, include: KvWatchInclude.UpdatesOnly });
          const stop = () => watch.stop();
          this.stops.push(stop);
          const reading = (async () => {
            // A renewal needs no round; a release, a claim, a join or a leave does, at once.
            for await (const e of watch) if (this.note(into, e)) this.schedule(0);
          })();
          for await (const e of readCurrent(this.opts.bus, this.opts.bucket, filter)) {
            this.noteEntry(into, e.key, e.revision, new TextDecoder().decode(e.value), "PUT");
          }
          listed();
          await reading;
          this.stops.splice(this.stops.indexOf(stop), 1);
        } catch (err) {
          log.warn({ err, filter }, "ownership watch failed");
        }
        if (this.stopped) break;
        log.warn({ filter }, "ownership watch ended; starting it again");
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      listed();
    })();
    await firstListing;
  }

  /** The runner of a partition stopped on its own (its lease ran out while it wrote): forget it. */
  forget(p: number): void {
    const held = this.held.get(p);
    if (held === undefined || this.releasing.has(p)) return;
    this.held.delete(p);
    void this.opts.kv
      .delete(kitKeys.lease(this.opts.name, p), { previousSeq: held.revision })
      .catch(() => undefined);
  }

  /** Releases every partition (after writing what each gathered) and leaves. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.tickTimer);
    await this.ticking;
    for (const stop of this.stops) stop();
    await Promise.all(this.owned().map((p) => this.release(p, true)));
    await this.opts.kv
      .delete(kitKeys.member(this.opts.name, this.opts.instanceId), { previousSeq: this.memberRevision })
      .catch(() => undefined);
  }

  /** Records a watched entry; true when it is news (a key appeared, went, or changed owner). */
  private note(into: Map<string, Seen> | Map<number, Seen>, e: KvEntry): boolean {
    const before =
      into === this.members ? this.members.get(e.key) : this.leases.get(kitKeys.partitionOf(e.key));
    this.noteEntry(into, e.key, e.revision, e.operation === "PUT" ? e.string() : "", e.operation);
    const after =
      into === this.members ? this.members.get(e.key) : this.leases.get(kitKeys.partitionOf(e.key));
    return before === undefined || before.deleted !== after?.deleted || before.owner !== after?.owner;
  }

  private noteEntry(
    into: Map<string, Seen> | Map<number, Seen>,
    key: string,
    revision: number,
    value: string,
    operation: string,
  ): void {
    const seen: Seen = {
      revision,
      since: performance.now(),
      owner: operation === "PUT" ? ownerOf(value) : undefined,
      deleted: operation !== "PUT",
    };
    if (into === this.members) {
      if ((this.members.get(key)?.revision ?? 0) < revision) this.members.set(key, seen);
      return;
    }
    const p = kitKeys.partitionOf(key);
    if ((this.leases.get(p)?.revision ?? 0) >= revision) return;
    this.leases.set(p, seen);
    // Written by someone else while we hold it: it is theirs now.
    const held = this.held.get(p);
    if (held !== undefined && seen.owner !== this.opts.instanceId && !this.releasing.has(p)) {
      this.lose(p, `lease written by ${seen.owner ?? "a delete"}`);
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.tickTimer);
    this.tickTimer = setTimeout(() => {
      this.ticking = this.ticking
        .then(() => this.tick())
        .catch((err: unknown) => {
          this.opts.log.warn({ err }, "ownership round failed");
        });
    }, ms);
  }

  /**
   * One round: renew what is due (every quarter lease), then rebalance. Rounds also run at once
   * when another replica changes a member or lease key, so a release is claimed without delay.
   */
  private async tick(): Promise<void> {
    if (this.stopped) return;
    const renewEvery = this.opts.leaseMs / 4;
    try {
      if (performance.now() - this.memberRenewedAt >= renewEvery) await this.renewMember();
      await this.renewLeases(renewEvery);
      await this.rebalance();
    } finally {
      this.schedule(renewEvery);
    }
  }

  private async renewMember(): Promise<void> {
    const { kv, name, instanceId } = this.opts;
    const key = kitKeys.member(name, instanceId);
    const value = JSON.stringify({ owner: instanceId, at: Date.now() });
    const sentAt = performance.now();
    this.memberRevision = await kv.put(key, value);
    this.memberRenewedAt = sentAt;
  }

  private async renewLeases(renewEvery: number): Promise<void> {
    const { kv, name, instanceId, leaseMs } = this.opts;
    await Promise.all(
      [...this.held].map(async ([p, held]) => {
        if (this.releasing.has(p)) return;
        const sentAt = performance.now();
        if (sentAt - held.renewedAt < renewEvery) return;
        if (sentAt - held.renewedAt >= leaseMs) {
          // Too late to renew safely: someone may have taken it already.
          this.lose(p, "lease ran out before it could be renewed");
          return;
        }
        try {
          const revision = await kv.update(kitKeys.lease(name, p), leaseValue(instanceId), held.revision);
          if (this.held.get(p) === held) this.held.set(p, { ...held, revision, renewedAt: sentAt });
        } catch (err) {
          this.opts.log.warn({ err, partition: p }, "lease renewal failed");
          if (isWrongRevision(err)) this.lose(p, "lease renewal refused");
        }
      }),
    );
  }

  private lose(p: number, reason: string): void {
    if (!this.held.has(p)) return;
    this.opts.log.warn({ partition: p, reason }, "partition lost");
    this.held.delete(p);
    void this.opts.released(p, false);
  }

  private async rebalance(): Promise<void> {
    const { partitions, leaseMs } = this.opts;
    const members = this.liveMembers();
    const share = Math.ceil(partitions / members.length);
    const mine = this.owned().filter((p) => !this.releasing.has(p));
    // Beyond the fair share: hand the highest partitions over, so that newcomers get some.
    for (const p of mine.slice(share).reverse()) void this.release(p, true);
    if (mine.length >= share) return;
    const now = performance.now();
    // Each free lease with the revision that was judged free: the claim is compare-and-set on it.
    const free = new Map<number, Seen | undefined>();
    for (let p = 0; p < partitions; p++) {
      if (this.held.has(p) || this.releasing.has(p)) continue;
      const seen = this.leases.get(p);
      if (seen === undefined || seen.deleted || now - seen.since >= leaseMs) free.set(p, seen);
    }
    // Start at an offset of our own, so that replicas claiming at once mostly ask for different ones.
    const offset = members.indexOf(this.opts.instanceId) * share;
    const order = [...free.keys()].sort(
      (a, b) => ((a - offset + partitions) % partitions) - ((b - offset + partitions) % partitions),
    );
    for (const p of order.slice(0, share - mine.length)) await this.claim(p, free.get(p));
  }

  /**
   * Claims a lease judged free at revision `seen`. Never at a revision seen later: while earlier
   * claims were awaited, the watch may have brought a live owner's fresh write (a replica resumed
   * from a pause sees every lease as old until its watch catches up), and that must not be taken.
   */
  private async claim(p: number, seen: Seen | undefined): Promise<void> {
    const { kv, name, instanceId } = this.opts;
    const sentAt = performance.now();
    try {
      const key = kitKeys.lease(name, p);
      const revision =
        seen === undefined
          ? await kv.create(key, leaseValue(instanceId))
          : await kv.update(key, leaseValue(instanceId), seen.revision);
      const claim = ++this.claims;
      this.held.set(p, { revision, renewedAt: sentAt, claim });
      this.opts.log.info({ partition: p }, "partition claimed");
      this.opts.acquired(p, { valid: () => this.valid(p, claim) });
    } catch (err) {
      if (!isWrongRevision(err)) this.opts.log.warn({ err, partition: p }, "claiming a partition failed");
    }
  }

  private async release(p: number, handover: boolean): Promise<void> {
    const held = this.held.get(p);
    if (held === undefined || this.releasing.has(p)) return;
    this.releasing.add(p);
    try {
      await this.opts.released(p, handover);
      const current = this.held.get(p);
      if (current !== undefined) {
        await this.opts.kv
          .delete(kitKeys.lease(this.opts.name, p), { previousSeq: current.revision })
          .catch(() => undefined);
      }
      this.opts.log.info({ partition: p }, "partition released");
    } finally {
      this.held.delete(p);
      this.releasing.delete(p);
    }
  }
}

function leaseValue(instanceId: string): string {
  return JSON.stringify({ owner: instanceId, at: Date.now() });
}

function ownerOf(value: string): string | undefined {
  try {
    return (JSON.parse(value) as { owner?: string }).owner;
  } catch {
    return undefined;
  }
}
