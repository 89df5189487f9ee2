// An event script: ctx.event in the 0.2 names, the payload typed by the context.
export default async function (ctx: jsrt.Context<{ orderId: number }>) {
  const e = ctx.event;
  if (!e) return null;
  const id: number = e.id;
  const type: string = e.type;
  const order: number = e.payload.orderId;
  const when = new Date(e.emittedAt);
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  const text = decoder.decode(new Uint8Array([0xe2, 0x82]), { stream: true }) + decoder.decode(new Uint8Array([0xac]));
  const buf = new ArrayBuffer(8);
  const moved = structuredClone({ buf }, { transfer: [buf] });
  return { id, type, order, depth: e.depth, when: when.toISOString(), text, ignoreBOM: decoder.ignoreBOM, size: moved.buf.byteLength };
}

// Retries with a backoff between attempts, and a timing.
export async function withRetries(ctx: jsrt.Context<{ url: string }>) {
  const started = performance.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return { body: (await ctx.http.get(ctx.input.url)).text(), ms: performance.now() - started };
    } catch (e) {
      if (attempt === 3) throw e;
      await new Promise<void>((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
    }
  }
}
const tick: number = setInterval((n: number) => n + 1, 10, 1);
clearInterval(tick);
queueMicrotask(() => clearTimeout(undefined));
