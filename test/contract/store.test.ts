import { afterAll, beforeAll } from "vitest";
import type { Store } from "../../shared/ports/store.ts";
import { forEachEngine, openStore } from "../helpers/engines.ts";
import { storeContract } from "./store.contract.ts";

forEachEngine("the storage port", (engine) => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore(engine);
  }, 90_000);
  afterAll(async () => {
    await store?.close();
  });
  storeContract(() => store);
});
