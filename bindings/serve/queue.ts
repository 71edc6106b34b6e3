// One engine holds one sequence in its KV cache, so requests take turns: a first-come, first-served queue with
// one slot. Decoding several sequences in one forward (M > 1 rows) would need a KV cache per sequence inside the
// engine; until it has one, throughput does not grow with clients, only waiting time does.
export class QueueFullError extends Error {}
export class QueueAbortedError extends Error {}

export class SlotQueue {
  private busy = false;
  private waiting: { grant: () => void; fail: (e: Error) => void }[] = [];
  constructor(readonly maxWaiting = 64) {}

  get running(): boolean { return this.busy; }
  get queued(): number { return this.waiting.length; }

  /**
   * Wait for the slot; resolves to its release function (call it exactly once). A request aborted while it waits
   * leaves the queue at once (QueueAbortedError); a full queue refuses at once (QueueFullError).
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(new QueueAbortedError('aborted'));
    let released = false;
    const release = () => { if (released) return; released = true; this.next(); };
    if (!this.busy) { this.busy = true; return Promise.resolve(release); }
    if (this.waiting.length >= this.maxWaiting) return Promise.reject(new QueueFullError(`${this.waiting.length} requests already wait for the model`));
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => { signal?.removeEventListener('abort', onAbort); resolve(release); },
        fail: (e: Error) => { signal?.removeEventListener('abort', onAbort); reject(e); },
      };
      const onAbort = () => { const i = this.waiting.indexOf(entry); if (i >= 0) { this.waiting.splice(i, 1); entry.fail(new QueueAbortedError('aborted')); } };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  /** Fail everyone still waiting (the engine died). */
  failAll(e: Error): void { for (const w of this.waiting.splice(0)) w.fail(e); }

  private next(): void {
    const w = this.waiting.shift();
    if (w) w.grant(); else this.busy = false;
  }
}
