/** Collects everything a process prints on one stream and waits for text to appear in it. */
export class Output {
  #text = "";
  #ended = false;
  #waiters: (() => void)[] = [];

  constructor(stream: NodeJS.ReadableStream | null) {
    stream?.on("data", (chunk: Buffer) => {
      this.#text += chunk.toString();
      this.#wakeAll();
    });
    stream?.on("end", () => {
      this.#ended = true;
      this.#wakeAll();
    });
  }

  #wakeAll(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  get lines(): string[] {
    return this.#text.split("\n").filter(Boolean);
  }

  async waitFor(text: string): Promise<void> {
    while (!this.#text.includes(text)) {
      if (this.#ended)
        throw new Error(`the process ended without printing "${text}":\n${this.#text}`);
      await new Promise<void>((wake) => this.#waiters.push(wake));
    }
  }
}
