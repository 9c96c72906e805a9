// Tells when a file may have changed: a write in place (watched on the file), or a new file renamed
// over it, a removal or a creation (watched on its directory, filtered by name). Bursts come out as
// one call after `debounceMs` of quiet. Callers re-read and compare; a spurious call costs a read.
import { type FSWatcher, watch } from "node:fs";
import { basename, dirname } from "node:path";

export interface FileWatch {
  close(): void;
}

export interface FileWatchOptions {
  debounceMs?: number;
  /** A watch that could not be set up (no directory, no inotify): told once, never thrown. */
  onError?: (err: Error) => void;
}

export function watchFile(path: string, onChange: () => void, options: FileWatchOptions = {}): FileWatch {
  const debounceMs = options.debounceMs ?? 200;
  const name = basename(path);
  let timer: ReturnType<typeof setTimeout> | null = null;
  let closed = false;
  const fire = () => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      if (closed) return;
      try {
        onChange();
      } catch (err) {
        options.onError?.(err as Error);
      }
    }, debounceMs);
  };
  const watchers: FSWatcher[] = [];
  const add = (target: string, filter: (file: string | null) => boolean, optional = false) => {
    try {
      const w = watch(target, { persistent: false }, (_event, file) => {
        if (filter(typeof file === "string" ? file : null)) fire();
      });
      w.on("error", (err) => options.onError?.(err));
      watchers.push(w);
    } catch (err) {
      if (!(optional && (err as NodeJS.ErrnoException).code === "ENOENT")) options.onError?.(err as Error);
    }
  };
  add(dirname(path), (file) => file === null || file === name);
  // The file's own inode: where only the file is visible (a bind mount of it), writes in place still show.
  add(path, () => true, true);
  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
