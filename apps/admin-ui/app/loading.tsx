/** Shown while a page's data is read from the orchestrator. */
export default function Loading() {
  return (
    <p className="loading" role="status" aria-live="polite">
      Loading…
    </p>
  );
}
