import type { Command } from "commander";
import type { ApiKeyView } from "../../shared/contracts/api-keys.ts";
import { expiry } from "../args.ts";
import { type GlobalOptions, outputFormat, resolveClient } from "../context.ts";
import { ago, type Column, printObject, printRows } from "../output.ts";

const columns: Column<ApiKeyView>[] = [
  { header: "ID", value: (k) => k.id },
  { header: "NAME", value: (k) => k.name },
  { header: "ROLE", value: (k) => k.role },
  { header: "CREATED", value: (k) => k.createdAt },
  { header: "LAST USED", value: (k) => ago(k.lastUsedAt) },
  { header: "EXPIRES", value: (k) => k.expiresAt },
  { header: "REVOKED", value: (k) => k.revokedAt },
];

/** `berth keys create|list|get|revoke` */
export function keysCommand(program: Command) {
  const keys = program.command("keys").description("manage API keys of your workspace (admin)");
  const globals = () => program.opts<GlobalOptions>();

  keys
    .command("create")
    .description("create an API key; its secret is printed once")
    .requiredOption("--name <name>", "what the key is for (a person, a CI system)")
    .option("--role <role>", "admin, member, or metrics (may only scrape GET /metrics)", "member")
    .option("--expires-in <duration>", "lifetime, e.g. 12h or 90d")
    .option("--expires-at <time>", "expiry as an RFC 3339 timestamp")
    .action(async (o: { name: string; role: string; expiresIn?: string; expiresAt?: string }) => {
      const expiresAt = expiry(o);
      const client = resolveClient(globals(), process.env);
      const created = await client.request<ApiKeyView & { key: string }>("POST", "/api-keys", {
        body: { name: o.name, role: o.role, expiresAt },
      });
      const format = outputFormat(globals());
      if (format === "json") return printObject(format, created);
      process.stdout.write(
        `Created ${created.role} key ${created.id} (${created.name}).\n` +
          `Secret, shown only now; store it safely:\n\n  ${created.key}\n\n` +
          `Use it with: export BERTH_API_KEY=${created.key}\n`,
      );
    });

  keys
    .command("list")
    .description("list API keys (prefixes only)")
    .option("--include-revoked", "also show revoked keys")
    .action(async (o: { includeRevoked?: boolean }) => {
      const client = resolveClient(globals(), process.env);
      const items = await client.listAll<ApiKeyView>("/api-keys", {
        includeRevoked: o.includeRevoked || undefined,
      });
      printRows(outputFormat(globals()), items, columns);
    });

  keys
    .command("get <id>")
    .description("show one API key")
    .action(async (id: string) => {
      const client = resolveClient(globals(), process.env);
      printObject(
        outputFormat(globals()),
        await client.request<ApiKeyView>("GET", `/api-keys/${encodeURIComponent(id)}`),
      );
    });

  keys
    .command("revoke <id>")
    .description("revoke an API key; requests with it get 401 from now on")
    .action(async (id: string) => {
      const client = resolveClient(globals(), process.env);
      await client.request("DELETE", `/api-keys/${encodeURIComponent(id)}`);
      process.stdout.write(`Revoked key ${id}.\n`);
    });
}
