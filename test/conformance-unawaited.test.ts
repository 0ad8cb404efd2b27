// A store author may call storeConformance at the top of a Vitest file without awaiting it and
// without passing `test`: the cases must still be registered (else Vitest reports no tests here).
import { MemoryStore } from "../src/index.js";
import { storeConformance } from "../src/testing/index.js";

void storeConformance("MemoryStore (un-awaited call)", () => new MemoryStore());
