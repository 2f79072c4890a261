import { describe, expect, it } from "vitest";
import { parseEnv, parseMount, parsePort } from "../../shared/domain/spec-strings.ts";

const host = (path: string, mountPath: string, readOnly = false) => ({
  mountPath,
  readOnly,
  mountSource: { type: "host", source: { path } },
});

describe("mount specs: src[:dst[:ro|rw]]", () => {
  it.each([
    ["/data", host("/data", "/data")],
    ["/data:/mnt/data", host("/data", "/mnt/data")],
    ["/data:/mnt/data:ro", host("/data", "/mnt/data", true)],
    ["/data:/mnt/data:rw", host("/data", "/mnt/data")],
  ])("%s", (input, expected) => {
    expect(parseMount(input)).toEqual(expected);
  });

  it.each([
    ["data", 'invalid mount path: "data"'],
    ["data:/mnt", 'invalid mount path: "data"'],
    ["/data:mnt", 'invalid mount path: "mnt"'],
    ["/data:/mnt:rx", 'invalid mount spec: "/data:/mnt:rx"'],
    ["/data:/mnt:RO", 'invalid mount spec: "/data:/mnt:RO"'],
    ["/a:/b:ro:x", 'invalid mount spec: "/a:/b:ro:x"'],
    ["", 'invalid mount path: ""'],
  ])("%j → %s", (input, message) => {
    expect(() => parseMount(input)).toThrow(message);
  });
});

describe("port specs: port[:target][/protocol]", () => {
  it.each([
    ["8080", { targetPort: 8080, protocol: "tcp" }],
    ["8080:80", { targetPort: 80, publishedPort: 8080, protocol: "tcp" }],
    ["80:80", { targetPort: 80, protocol: "tcp" }],
    ["53/udp", { targetPort: 53, protocol: "udp" }],
    ["5353:53/udp", { targetPort: 53, publishedPort: 5353, protocol: "udp" }],
    ["80/tcp/extra", { targetPort: 80, protocol: "tcp/extra" }],
  ])("%s", (input, expected) => {
    expect(parsePort(input)).toEqual(expected);
  });

  it.each([
    ["1:2:3", 'invalid port spec: "1:2:3"'],
    ["http", 'invalid port: "http"'],
    ["8080:web", 'invalid port: "web"'],
    ["0", 'invalid port: "0"'],
    ["65536", 'invalid port: "65536"'],
    ["-1", 'invalid port: "-1"'],
    ["", 'invalid port: ""'],
  ])("%j → %s", (input, message) => {
    expect(() => parsePort(input)).toThrow(message);
  });
});

describe("env specs: NAME=value", () => {
  it.each([
    ["A=1", { name: "A", value: "1" }],
    ["A=", { name: "A", value: "" }],
    ["HF_HOME=/data/hf", { name: "HF_HOME", value: "/data/hf" }],
  ])("%s", (input, expected) => {
    expect(parseEnv(input)).toEqual(expected);
  });

  it.each(["A", "A=b=c", "=x", ""])("%j is invalid", (input) => {
    expect(() => parseEnv(input)).toThrow(`invalid env spec: "${input}"`);
  });
});
