import { describe, expect, it } from "vitest";
import { SSEParser } from "./sse";

describe("SSEParser", () => {
  it("returns each event's data once its blank line arrives", () => {
    const p = new SSEParser();
    expect(p.push('data: {"type":"ADDED"}\n')).toEqual([]);
    expect(p.push("\n")).toEqual(['{"type":"ADDED"}']);
  });

  it("joins events split across chunks anywhere, even inside a line", () => {
    const p = new SSEParser();
    const stream = 'data: {"a":1}\n\n: heartbeat\n\ndata: {"b":2}\r\n\r\ndata: {"c":3}\n\n';
    const got: string[] = [];
    for (let i = 0; i < stream.length; i += 3) got.push(...p.push(stream.slice(i, i + 3)));
    expect(got).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it("ignores heartbeats and fields the API does not send", () => {
    const p = new SSEParser();
    expect(p.push(": heartbeat\n\nevent: x\nid: 4\n\n")).toEqual([]);
  });
});
