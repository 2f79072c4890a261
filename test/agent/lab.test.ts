import { describe, expect, it } from "vitest";
import { dockerImages, dockerSize } from "../../agent/runtimes/docker.ts";
import { PullProgress, publishedPort } from "../../agent/runtimes/lab.ts";

/** What `docker pull` printed (not on a terminal) for an image with a layer the engine had and one it had not. */
const PULL = [
  "3: Pulling from berth/lab",
  "205887d123a9: Already exists",
  "4f4fb700ef54: Pulling fs layer",
  "4f4fb700ef54: Verifying Checksum",
  "4f4fb700ef54: Download complete",
  "4f4fb700ef54: Pull complete",
  "Digest: sha256:e1e9b63cddc634ba15f28d9ec96d8b0a39049a9225dc12ad1ed4abffd76d3dc2",
  "Status: Downloaded newer image for 127.0.0.1:5000/berth/lab:3",
  "127.0.0.1:5000/berth/lab:3",
];

describe("a lab's pull and port on the agent", () => {
  it("counts layers seen and done from docker pull's lines, telling only of changes", () => {
    const p = new PullProgress();
    const changed = PULL.map((l) => p.line(l));
    expect(changed).toEqual([false, true, true, false, false, true, false, false, false]);
    expect([p.done, p.total]).toEqual([2, 2]);
    expect(p.message("lab:3")).toBe("Pulling lab:3: 2 of 2 layers done");
    expect(p.status).toBe("Downloaded newer image for 127.0.0.1:5000/berth/lab:3");
  });

  it("reads the host port Docker published, and the images Docker holds", async () => {
    const run = async (_c: string, args: string[]) =>
      args[0] === "port"
        ? { code: 0, stdout: "0.0.0.0:49153\n[::]:49153\n", stderr: "" }
        : {
            code: 0,
            stdout: [
              '{"Repository":"ghcr.io/acme/lab","Tag":"2026.07","Digest":"sha256:abc","Size":"1.24GB"}',
              '{"Repository":"<none>","Tag":"<none>","Digest":"<none>","Size":"5MB"}',
              '{"Repository":"berth-test/busybox","Tag":"1","Digest":"<none>","Size":"2.1MB"}',
              "not json",
            ].join("\n"),
            stderr: "",
          };
    expect(await publishedPort(run, "berth-x", 8888)).toBe(49153);
    expect(
      await publishedPort(async () => ({ code: 1, stdout: "", stderr: "no port" }), "x", 1),
    ).toBeUndefined();
    expect(await dockerImages(run)).toEqual([
      { reference: "ghcr.io/acme/lab:2026.07", digest: "sha256:abc", sizeBytes: 1_240_000_000 },
      { reference: "berth-test/busybox:1", sizeBytes: 2_100_000 },
    ]);
    expect(await dockerImages(run, 1)).toHaveLength(1);
    expect([dockerSize("512kB"), dockerSize("12B"), dockerSize("lots")]).toEqual([512_000, 12, undefined]);
  });
});
