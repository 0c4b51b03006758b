/**
 * A bounded map for per-address state (member roles, forwarder nonces, rate-limit buckets,
 * scheduling state): the least recently used entry goes first once `max` entries are held, and an
 * entry older than `ttlMs` reads as absent. Every address that signs a request creates state, and
 * anyone can sign with a fresh key, so no per-address map on the relay may grow without bound.
 * A JavaScript Map keeps insertion order, so re-inserting on use makes its first key the least
 * recently used one: get and set are O(1).
 */
export class LruCache<K, V> {
  private readonly entries = new Map<K, { value: V; at: number }>();

  constructor(
    readonly max: number,
    readonly ttlMs = Number.POSITIVE_INFINITY,
  ) {
    if (!(max >= 1)) throw new RangeError(`LruCache max must be at least 1, got ${max}`);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The value, if present and younger than the TTL; marks it as recently used. */
  get(key: K): V | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (Date.now() - hit.at >= this.ttlMs) {
      this.entries.delete(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit.value;
  }

  /** Like get, without touching recency or expiry (for metrics and checks). */
  peek(key: K): V | undefined {
    return this.entries.get(key)?.value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, { value, at: Date.now() });
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as K);
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
