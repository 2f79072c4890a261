import type { Command } from "commander";
import type { RegistrationTokenView } from "../../shared/contracts/registration-tokens.ts";
import { installLine } from "../../shared/domain/install-line.ts";
import { collect, expiry, labelText, pairs, wholeNumber } from "../args.ts";
import { type GlobalOptions, outputFormat, resolveClient } from "../context.ts";
import { type Column, printObject, printRows } from "../output.ts";

const columns: Column<RegistrationTokenView>[] = [
  { header: "ID", value: (t) => t.id },
  { header: "NAME", value: (t) => t.name },
  {
    header: "DEVICES",
    value: (t) => (t.maxRegistrations ? `${t.deviceCount}/${t.maxRegistrations}` : t.deviceCount),
  },
  { header: "GROUP", value: (t) => t.nodeGroup },
  { header: "LABELS", value: (t) => labelText(t.labels) || undefined },
  { header: "EXPIRES", value: (t) => t.expiresAt },
];

interface TokenOptions {
  name?: string;
  description?: string;
  label?: string[];
  env?: string[];
  maxRegistrations?: string | false;
  namingStrategy?: string;
  nodeGroup?: string | false;
  expiresIn?: string;
  expiresAt?: string;
  expiry?: false;
  keylessRelogin?: boolean;
}

/** The lines an operator pastes on a GPU machine to register it. */
export function agentCommandLines(endpoint: string, token: string, nodeGroup: string | undefined): string {
  const group = nodeGroup ? ` --node-group ${nodeGroup}` : "";
  const local = /\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(`${endpoint}/`);
  return (
    `On the GPU machine (Linux with systemd and Node.js 20+), as root: installs Berth's agent and starts it:\n\n` +
    `  ${installLine(endpoint, token, nodeGroup)}\n\n` +
    `or run the agent yourself (the token only on the first start; BERTH_TOKEN or --token-file keep it out of ps):\n\n` +
    `  BERTH_TOKEN=${token} berth agent --endpoint ${endpoint}${group}\n\n` +
    `or with a stock GPUd agent (GPUd speaks HTTPS only: put Berth behind TLS; to log in again after a restart,\n` +
    `GPUd needs a token created with --keyless-relogin):\n\n` +
    `  gpud up --endpoint ${endpoint.replace(/^https?:\/\//, "")} --token ${token}${group ? ` --node-group ${nodeGroup}` : ""}\n` +
    (local
      ? `\nNote: ${endpoint} is only reachable from this machine; start the server with --host 0.0.0.0 and use its address.\n`
      : "")
  );
}

/** `berth tokens create|list|get|update|delete` */
export function tokensCommand(program: Command) {
  const tokens = program.command("tokens").description("registration tokens: how GPU machines join (admin)");
  const globals = () => program.opts<GlobalOptions>();

  tokens
    .command("create")
    .description("create a registration token; prints it once with the agent command line")
    .requiredOption("--name <name>", "what the token is for")
    .option("--description <text>")
    .option("--label <key=value>", "label for devices registering with it (repeatable)", collect)
    .option("--env <NAME=value>", "environment variable for their workloads (repeatable)", collect)
    .option("--max-registrations <n>", "how many devices may register with it")
    .option("--naming-strategy <strategy>", "default or fromHostname")
    .option("--node-group <name>", "pin its devices to this node group")
    .option("--expires-in <duration>", "lifetime, e.g. 24h")
    .option("--expires-at <time>", "expiry as an RFC 3339 timestamp")
    .option(
      "--keyless-relogin",
      "let machines without a key of their own (stock GPUd) log in again with this token alone",
    )
    .action(async (o: TokenOptions) => {
      const client = resolveClient(globals(), process.env);
      const created = await client.request<RegistrationTokenView & { token: string }>(
        "POST",
        "/registration-tokens",
        {
          body: {
            name: o.name,
            description: o.description,
            labels: pairs(o.label, "--label"),
            environmentVariables: pairs(o.env, "--env"),
            maxRegistrations: wholeNumber(o.maxRegistrations || undefined, "--max-registrations"),
            namingStrategy: o.namingStrategy,
            nodeGroup: o.nodeGroup || undefined,
            expiresAt: expiry(o),
            keylessRelogin: o.keylessRelogin === true,
          },
        },
      );
      const format = outputFormat(globals());
      if (format === "json") return printObject(format, created);
      process.stdout.write(
        `Created registration token ${created.id} (${created.name}).\nToken, shown only now:\n\n  ${created.token}\n\n` +
          agentCommandLines(client.endpoint, created.token, created.nodeGroup),
      );
    });

  tokens
    .command("list")
    .description("list registration tokens")
    .action(async () => {
      const client = resolveClient(globals(), process.env);
      printRows(
        outputFormat(globals()),
        await client.listAll<RegistrationTokenView>("/registration-tokens"),
        columns,
      );
    });

  tokens
    .command("get <id>")
    .description("show a registration token")
    .action(async (id: string) => {
      const client = resolveClient(globals(), process.env);
      const view = await client.request<RegistrationTokenView>(
        "GET",
        `/registration-tokens/${encodeURIComponent(id)}`,
      );
      printObject(outputFormat(globals()), view);
    });

  tokens
    .command("update <id>")
    .description("change a token (devices already registered keep what they inherited)")
    .option("--name <name>")
    .option("--description <text>")
    .option("--label <key=value>", "the complete new label set (repeatable)", collect)
    .option("--env <NAME=value>", "the complete new environment (repeatable)", collect)
    .option("--max-registrations <n>", "new cap")
    .option("--no-max-registrations", "remove the cap")
    .option("--naming-strategy <strategy>", "default or fromHostname")
    .option("--node-group <name>", "pin devices to this group")
    .option("--no-node-group", "stop pinning devices to a group")
    .option("--expires-in <duration>")
    .option("--expires-at <time>")
    .option("--no-expiry", "never expire")
    .option("--keyless-relogin", "let machines without a key of their own log in again with the token alone")
    .option("--no-keyless-relogin", "new machines only: a keyless machine cannot log in again with it")
    .action(async (id: string, o: TokenOptions) => {
      const client = resolveClient(globals(), process.env);
      const view = await client.request<RegistrationTokenView>(
        "PATCH",
        `/registration-tokens/${encodeURIComponent(id)}`,
        {
          body: {
            name: o.name,
            description: o.description,
            labels: pairs(o.label, "--label"),
            environmentVariables: pairs(o.env, "--env"),
            maxRegistrations:
              o.maxRegistrations === false
                ? null
                : wholeNumber(o.maxRegistrations || undefined, "--max-registrations"),
            namingStrategy: o.namingStrategy,
            nodeGroup: o.nodeGroup === false ? null : o.nodeGroup || undefined,
            expiresAt: o.expiry === false ? null : expiry(o),
            keylessRelogin: o.keylessRelogin,
          },
        },
      );
      printObject(outputFormat(globals()), view);
    });

  tokens
    .command("delete <id>")
    .description("revoke a token for future logins (registered devices keep working)")
    .action(async (id: string) => {
      const client = resolveClient(globals(), process.env);
      await client.request("DELETE", `/registration-tokens/${encodeURIComponent(id)}`);
      process.stdout.write(`Deleted registration token ${id}.\n`);
    });
}
