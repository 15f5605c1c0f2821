// Slot ranges (ranges.ts) and their zod input type for request bodies.
import { z } from "zod";
import { parseSlotRange } from "./ranges.js";

export * from "./keyslot.js";
export * from "./ranges.js";

/** Zod type for a range given as `"5"`, `"5-10"` or a number, parsed into a SlotRange. */
export const SlotRangeInput = z.union([z.string(), z.number().int()]).transform((value, ctx) => {
  try {
    return parseSlotRange(String(value));
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
    return z.NEVER;
  }
});
