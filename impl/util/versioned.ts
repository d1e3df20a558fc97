// Versions of mutable implementation objects, so that the abstraction (impl/abstraction.ts) rebuilds only what a
// step changed. One clock for every object: a version is never reused, even by an object that replaces another.
let clock = 0;

/** A fresh version, greater than every version handed out before. */
export const nextVersion = (): number => ++clock;

/** A Map whose version changes with every write (set, delete, clear). */
export class VersionedMap<K, V> extends Map<K, V> {
  version = nextVersion();

  override set(k: K, v: V): this {
    this.version = nextVersion();
    return super.set(k, v);
  }

  override delete(k: K): boolean {
    this.version = nextVersion();
    return super.delete(k);
  }

  override clear(): void {
    this.version = nextVersion();
    super.clear();
  }
}
