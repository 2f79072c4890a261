import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { hostsAnswer } from "../../hosts/lambda.ts";

/** A host whose /healthz answers `status`. */
async function host(status: number): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(status).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe("the sweeper's question: do the hosts agents talk to answer?", () => {
  const servers: Server[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
  });
  /** agentHostsAnswer: the linked API's URL and BERTH_AGENT_ENDPOINT. */
  let hosts: [string | undefined, string | undefined] = [undefined, undefined];
  const link = (api: string | undefined, agents: string | undefined) => {
    hosts = [api, agents];
  };
  const agentHostsAnswer = () => hostsAnswer(hosts);

  it("asks the API and the agent host: both must answer", async () => {
    const up = await host(200);
    const down = await host(503);
    servers.push(up.server, down.server);
    link(up.url, up.url);
    expect(await agentHostsAnswer()).toBe(true);
    // The API answers but the agent service does not: agents cannot reach the control plane.
    link(up.url, down.url);
    expect(await agentHostsAnswer()).toBe(false);
    link(down.url, up.url);
    expect(await agentHostsAnswer()).toBe(false);
    // Nothing listening at all.
    down.server.close();
    link(up.url, down.url);
    expect(await agentHostsAnswer()).toBe(false);
  });

  it("counts a host it is not told of as up", async () => {
    const up = await host(200);
    servers.push(up.server);
    link(undefined, up.url);
    expect(await agentHostsAnswer()).toBe(true);
    link(undefined, undefined);
    expect(await agentHostsAnswer()).toBe(true);
  });
});
