// Versions of mutable implementation objects, so that the abstraction (impl/abstraction.ts) rebuilds only what a
// step changed. One clock for every object: a version is never reused, even by an object that replaces another.
let clock = 0;

/** A fresh version, greater than every version handed out before. */
export const nextVersion = (): number => ++clock;

/** A Map whose version changes with every write (set, delete, clear), and whose `removals` with every loss of a value. */
export class VersionedMap<K, V> extends Map<K, V> {
  version = nextVersion();
  /** Changes when a value leaves the map: delete, clear, or set over a key that holds one. */
  removals = this.version;

  override set(k: K, v: V): this {
    this.version = nextVersion();
    if (super.has(k)) this.removals = this.version;
    return super.set(k, v);
  }

  override delete(k: K): boolean {
    this.version = nextVersion();
    this.removals = this.version;
    return super.delete(k);
  }

  override clear(): void {
    this.version = nextVersion();
    this.removals = this.version;
    super.clear();
  }
}
