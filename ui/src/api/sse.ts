// A parser of server-sent events, as the API's watches send them: one
// "data:" line per event, events separated by a blank line, comment lines
// (": heartbeat") ignored. EventSource cannot send an Authorization header,
// so watches are read with fetch and parsed here.

export class SSEParser {
  private buffer = "";
  private data: string[] = [];

  // push feeds a chunk of the stream and returns the data of every event
  // the chunk completed. Chunks may split lines and events anywhere.
  push(chunk: string): string[] {
    this.buffer += chunk;
    const events: string[] = [];
    let nl: number;
    while ((nl = this.buffer.indexOf("\n")) >= 0) {
      let line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line === "") {
        if (this.data.length > 0) events.push(this.data.join("\n"));
        this.data = [];
      } else if (line.startsWith(":")) {
        // a comment: the server's heartbeat
      } else if (line.startsWith("data:")) {
        const v = line.slice(5);
        this.data.push(v.startsWith(" ") ? v.slice(1) : v);
      }
      // Other fields (event:, id:, retry:) are not used by the API.
    }
    return events;
  }
}
