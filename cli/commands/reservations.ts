import { readFileSync } from "node:fs";
import type { Command } from "commander";
import type { ReservationView } from "../../shared/contracts/reservations.ts";
import { parseDuration } from "../../shared/domain/duration.ts";
import { type GlobalOptions, outputFormat, resolveClient } from "../context.ts";
import { CliError } from "../errors.ts";
import { type Column, printObject, printRows } from "../output.ts";

const columns: Column<ReservationView>[] = [
  { header: "ID", value: (r) => r.id },
  { header: "DEVICE", value: (r) => r.nodeId },
  { header: "TYPE", value: (r) => r.type },
  { header: "STATE", value: (r) => r.state },
  { header: "CREATED", value: (r) => r.created },
  { header: "EXPIRES", value: (r) => r.expiresAt },
];

/** The reservation as people read it: `data` and the result's data parsed back from their JSON text. */
const readable = (r: ReservationView) => ({
  ...r,
  data: JSON.parse(r.data) as unknown,
  ...(r.result ? { result: { ...r.result, data: safeParse(r.result.data) } } : {}),
});
const safeParse = (text: string) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
};

function dataArgument(o: { data?: string; dataFile?: string }): unknown {
  if (o.data && o.dataFile) throw new CliError("give --data or --data-file, not both", 2);
  const text = o.dataFile ? readFileSync(o.dataFile === "-" ? 0 : o.dataFile, "utf8") : (o.data ?? "{}");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(`the reservation data is not valid JSON: ${(err as Error).message}`, 2);
  }
}

/** `berth reservations create|list|get|delete|output` */
export function reservationsCommand(program: Command) {
  const reservations = program
    .command("reservations")
    .description("signed units of work for one device (admin)");
  const globals = () => program.opts<GlobalOptions>();
  const path = (id: string) => `/reservations/${encodeURIComponent(id)}`;

  reservations
    .command("create")
    .description("create a reservation for a device")
    .requiredOption("--device <id>", "the device (machine id)")
    .requiredOption("--type <type>", "container, process, volume, prepull or debug")
    .option("--data <json>", 'the payload, e.g. \'{"argv":["nvidia-smi"]}\'')
    .option("--data-file <file>", "read the payload from a file (- for stdin)")
    .option("--duration <duration>", "how long it lives, e.g. 30m or 3600", "1h")
    .action(
      async (o: { device: string; type: string; data?: string; dataFile?: string; duration: string }) => {
        const duration = parseDuration(o.duration);
        if (!duration)
          throw new CliError(`--duration: "${o.duration}" is not a duration like 30m or 3600`, 2);
        const client = resolveClient(globals(), process.env);
        const created = await client.request<ReservationView>("POST", "/reservations", {
          body: { nodeId: o.device, type: o.type, data: dataArgument(o), duration },
        });
        printObject(outputFormat(globals()), readable(created));
      },
    );

  reservations
    .command("list")
    .option("--device <id>", "only this device's")
    .option("--state <state>", "pending, delivered, ok, error, toDelete, expired or deleted")
    .action(async (o: { device?: string; state?: string }) => {
      const client = resolveClient(globals(), process.env);
      const items = await client.listAll<ReservationView>("/reservations", {
        nodeId: o.device,
        state: o.state,
      });
      printRows(outputFormat(globals()), items, columns);
    });

  reservations.command("get <id>").action(async (id: string) => {
    const client = resolveClient(globals(), process.env);
    printObject(outputFormat(globals()), readable(await client.request<ReservationView>("GET", path(id))));
  });

  reservations
    .command("delete <id>")
    .description("ask the device to stop and remove it")
    .action(async (id: string) => {
      const client = resolveClient(globals(), process.env);
      const r = await client.request<ReservationView>("DELETE", path(id));
      process.stdout.write(`Reservation ${id} is ${r.state}; the device will decommission it.\n`);
    });

  reservations
    .command("output <id>")
    .description("print what the device sent of its stdout/stderr")
    .option("--stream <stream>", "stdout, stderr or mixed", "mixed")
    .action(async (id: string, o: { stream: string }) => {
      const client = resolveClient(globals(), process.env);
      const chunks = await client.listAll<{ stream: string; data: string }>(`${path(id)}/output`, {
        stream: o.stream,
      });
      if (outputFormat(globals()) === "json") {
        process.stdout.write(`${JSON.stringify(chunks, null, 2)}\n`);
        return;
      }
      for (const c of chunks) (c.stream === "stderr" ? process.stderr : process.stdout).write(c.data);
    });
}
