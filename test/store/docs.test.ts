import { describe, expect, it } from "vitest";
import { z } from "zod";
import { caught, freshStore } from "./helpers.js";

const Probe = z.object({ failures: z.number() });

describe("state documents", () => {
  it("writes, reads, lists and deletes documents", async () => {
    const { store } = freshStore("docs");
    const key = store.keys.task("n1", "c1", "t1");
    expect(await store.getDoc(key, Probe)).toBeNull();
    const revision = await store.putDoc(key, { failures: 1 });
    expect(await store.getDoc(key, Probe)).toEqual({ value: { failures: 1 }, revision });
    await store.putDoc(store.keys.task("n1", "c1", "t2"), { failures: 2 });

    const listed = await store.listDocs(store.keys.tasksPrefix("n1", "c1"), Probe);
    expect(listed.map((d) => [d.key, d.value.failures])).toEqual([
      [store.keys.task("n1", "c1", "t1"), 1],
      [store.keys.task("n1", "c1", "t2"), 2],
    ]);
    expect(await store.deleteDoc(key)).toBe(true);
    expect(await store.deleteDoc(key)).toBe(false);
    expect(await store.getDoc(key, Probe)).toBeNull();
  });

  it("creates a document only if absent", async () => {
    const { store } = freshStore("docs");
    const key = store.keys.probeState("n1", "c1");
    await store.putDoc(key, { failures: 0 }, { expectRevision: "absent" });
    const err = await caught(() =>
      store.putDoc(key, { failures: 9 }, { expectRevision: "absent" }),
    );
    expect(err.kind).toBe("conflict");
    expect((await store.getDoc(key, Probe))?.value.failures).toBe(0);
  });

  it("swaps a document only at the revision it was read at", async () => {
    const { store } = freshStore("docs");
    const key = store.keys.probeState("n1", "c1");
    const r1 = await store.putDoc(key, { failures: 0 });
    const r2 = await store.putDoc(key, { failures: 1 }, { expectRevision: r1 });
    const stale = await caught(() => store.putDoc(key, { failures: 5 }, { expectRevision: r1 }));
    expect(stale.kind).toBe("conflict");
    expect(await store.getDoc(key, Probe)).toEqual({ value: { failures: 1 }, revision: r2 });
    const staleDelete = await caught(() => store.deleteDoc(key, { expectRevision: r1 }));
    expect(staleDelete.kind).toBe("conflict");
    expect(await store.deleteDoc(key, { expectRevision: r2 })).toBe(true);
  });
});
