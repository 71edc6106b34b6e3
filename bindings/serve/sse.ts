// Server-sent events as the OpenAI API streams them: `data: {json}` per chunk, `data: [DONE]` at the end.
import { ServerResponse } from 'node:http';

export class EventStream {
  constructor(private res: ServerResponse) {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive',
      'X-Accel-Buffering': 'no', // proxies that buffer (nginx) would hold tokens back
    });
    res.flushHeaders();
  }
  get open(): boolean { return !this.res.destroyed && !this.res.writableEnded; }
  send(data: unknown): void { if (this.open) this.res.write(`data: ${JSON.stringify(data)}\n\n`); }
  /** `[DONE]` and close; after an error the OpenAI clients expect the error object as the last event instead. */
  end(error?: unknown): void {
    if (!this.open) return;
    if (error) this.send(error); else this.res.write('data: [DONE]\n\n');
    this.res.end();
  }
}
