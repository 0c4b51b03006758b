/**
 * A sleep that a poke ends early: the binding's loops (projector, capture dispatcher, webhook
 * deliverers) poll their source every so often and are woken at once when it advances. A poke
 * while nobody sleeps is not remembered: each loop looks at its source before it sleeps again.
 */
export class Waker {
  private wake: (() => void) | undefined;

  /** Resolves after `ms`, or at the next poke. */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Ends the current sleep, if any. */
  poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
