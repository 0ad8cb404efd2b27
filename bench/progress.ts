/**
 * Progress of a long run on stderr (stdout stays the report): which step of how many, and the
 * time left, estimated from the mean time of the steps done so far.
 */
export class Progress {
  readonly #started: number;
  #done = 0;

  constructor(
    readonly total: number,
    readonly label: string,
    readonly now: () => number = Date.now,
    readonly write: (line: string) => void = (line) => process.stderr.write(line),
  ) {
    this.#started = now();
  }

  /** Announces the step about to start. */
  step(what: string): void {
    const elapsed = this.now() - this.#started;
    const left = this.#done === 0 ? "" : ` · about ${minutesAndSeconds((elapsed / this.#done) * (this.total - this.#done))} left`;
    this.#done++;
    this.write(`[${this.label} ${this.#done}/${this.total}] ${what}${left}\n`);
  }
}

function minutesAndSeconds(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}
