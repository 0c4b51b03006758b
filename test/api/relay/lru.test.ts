import { expect } from "chai";
import { LruCache } from "../../../api/relay/lru";

describe("relay LruCache: bounded per-address state", function () {
  it("holds at most max entries, dropping the least recently used first", () => {
    const cache = new LruCache<string, number>(3);
    for (const [k, v] of [["a", 1], ["b", 2], ["c", 3]] as const) cache.set(k, v);
    expect(cache.get("a")).to.equal(1); // a is now the most recent
    cache.set("d", 4);
    expect([cache.size, cache.get("b"), cache.get("a"), cache.get("c"), cache.get("d")]).to.deep.equal([3, undefined, 1, 3, 4]);
    for (let i = 0; i < 1_000; i++) cache.set(`k${i}`, i);
    expect(cache.size).to.equal(3);
  });

  it("reads an entry older than its TTL as absent (a TTL of 0 keeps nothing), and peek neither refreshes nor expires", () => {
    const none = new LruCache<string, number>(10, 0);
    none.set("a", 1);
    expect([none.get("a"), none.size]).to.deep.equal([undefined, 0]);
    const forever = new LruCache<string, number>(2);
    forever.set("a", 1);
    forever.set("b", 2);
    expect(forever.peek("a")).to.equal(1);
    forever.set("c", 3); // peek did not make "a" recent: it goes first
    expect([forever.peek("a"), forever.peek("b"), forever.peek("c")]).to.deep.equal([undefined, 2, 3]);
  });

  it("refuses a size below one", () => {
    expect(() => new LruCache(0)).to.throw(RangeError);
  });
});
