import { readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";

const TLS = resolve(import.meta.dirname, "../fixtures/tls");
const cert = readFileSync(`${TLS}/localhost-cert.pem`);

interface Recorded {
  method: string;
  path: string;
  authorization?: string;
  body?: unknown;
}

/**
 * A local HTTPS stand-in for the Kubernetes API (its certificate is `caData`, as an EKS cluster's is), enough of it for Berth's EKS launcher: create, read and
 * delete `batch/v1` Jobs (a second create of a name is 409 AlreadyExists), list a Job's pods. Records every
 * request (with its bearer token). Tests set a Job's status and its pod with `setJob`/`setPod`.
 */
export async function fakeKubernetes() {
  const requests: Recorded[] = [];
  const jobs = new Map<string, Record<string, unknown>>();
  const pods = new Map<string, Record<string, unknown>>();
  let failNext: number | undefined;
  const status = (code: number, reason: string, message: string) => ({
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    reason,
    message,
    code,
  });
  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let data = "";
      req.on("data", (c: Buffer) => {
        data += c;
      });
      req.on("end", () => resolve(data));
    });

  const server = createServer({ cert, key: readFileSync(`${TLS}/localhost-key.pem`) }, async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const text = await read(req);
    const body = text ? JSON.parse(text) : undefined;
    requests.push({
      method: req.method!,
      path: url.pathname + url.search,
      authorization: req.headers.authorization,
      body,
    });
    const send = (code: number, payload: unknown) => {
      res.writeHead(code, { "content-type": "application/json" });
      res.end(JSON.stringify(payload));
    };
    if (failNext) {
      const code = failNext;
      failNext = undefined;
      return send(code, status(code, "InternalError", "injected failure"));
    }
    const jobPath = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs(?:\/([^/]+))?$/.exec(url.pathname);
    const podPath = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(url.pathname);
    if (jobPath) {
      const [, ns, name] = jobPath;
      if (req.method === "POST" && !name) {
        const key = `${ns}/${body.metadata.name}`;
        if (jobs.has(key))
          return send(409, status(409, "AlreadyExists", `jobs.batch "${body.metadata.name}" already exists`));
        if (!body.spec?.template?.spec?.containers?.[0]?.image)
          return send(422, status(422, "Invalid", "spec.template.spec.containers[0].image: Required value"));
        const job = {
          ...body,
          metadata: { ...body.metadata, namespace: ns, uid: `uid-${jobs.size}` },
          status: {},
        };
        jobs.set(key, job);
        return send(201, job);
      }
      const key = `${ns}/${name}`;
      const job = jobs.get(key);
      if (!job) return send(404, status(404, "NotFound", `jobs.batch "${name}" not found`));
      if (req.method === "GET") return send(200, job);
      if (req.method === "DELETE") {
        jobs.delete(key);
        pods.delete(key);
        return send(200, status(200, "Success", "deleted"));
      }
    }
    if (podPath && req.method === "GET") {
      const [, ns] = podPath;
      const name = /job-name=([^,]+)/.exec(url.searchParams.get("labelSelector") ?? "")?.[1];
      const pod = name ? pods.get(`${ns}/${name}`) : undefined;
      return send(200, { apiVersion: "v1", kind: "PodList", metadata: {}, items: pod ? [pod] : [] });
    }
    return send(404, status(404, "NotFound", `no route ${req.method} ${url.pathname}`));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    /** The API server's CA (its own certificate), base64, as EKS gives it. */
    caData: cert.toString("base64"),
    requests,
    jobs,
    /** The next request is answered with this HTTP status (a server error). */
    failNext(code: number) {
      failNext = code;
    },
    setJob(ns: string, name: string, jobStatus: Record<string, unknown>) {
      const job = jobs.get(`${ns}/${name}`)!;
      job.status = jobStatus;
    },
    /** `where`: the node it is scheduled on and its addresses (`spec.nodeName`, `status.podIP`, `status.hostIP`). */
    setPod(
      ns: string,
      name: string,
      containerState: Record<string, unknown>,
      phase = "Running",
      where: { nodeName?: string; podIP?: string; hostIP?: string } = {},
    ) {
      pods.set(`${ns}/${name}`, {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: `${name}-abcde`, namespace: ns, labels: { "job-name": name } },
        ...(where.nodeName
          ? { spec: { nodeName: where.nodeName, containers: [{ name: "job", image: "x" }] } }
          : {}),
        status: {
          ...(where.podIP ? { podIP: where.podIP } : {}),
          ...(where.hostIP ? { hostIP: where.hostIP } : {}),
          phase,
          containerStatuses: [
            { name: "job", image: "x", imageID: "", ready: true, restartCount: 0, state: containerState },
          ],
        },
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
export type FakeKubernetes = Awaited<ReturnType<typeof fakeKubernetes>>;
