import { main } from "./main.ts";
import { exitWhenFlushed } from "./output.ts";

const code = await main(process.argv);
// Commands that keep running (server, agent) own the process; the others end here.
if (code !== 0) await exitWhenFlushed(code);
