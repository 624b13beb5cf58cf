/**
 * A typed publish/subscribe channel for sources that have no bus of their own (deploy progress,
 * install output lines): `emit` can be handed over as a callback, `on` is what the dashboard and
 * the metrics subscribe with. Like netboot's bus, a throwing listener never reaches the emitter.
 */
export interface EventSubscription<T> {
  on(listener: (event: T) => void): () => void;
}

export class EventFeed<T> implements EventSubscription<T> {
  readonly #listeners = new Set<(event: T) => void>();

  readonly emit = (event: T): void => {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // Observers must not break the run that feeds them.
      }
    }
  };

  on(listener: (event: T) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
