// A tiny history-API router: the path is the state; links call navigate.
import { useEffect, useState } from 'preact/hooks';

const listeners = new Set<() => void>();

export function navigate(path: string, replace = false) {
  if (path === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  for (const fn of listeners) fn();
}

window.addEventListener('popstate', () => {
  for (const fn of listeners) fn();
});

export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const fn = () => setPath(location.pathname);
    listeners.add(fn);
    return () => {
      listeners.delete(fn);
    };
  }, []);
  return path;
}

// useSearch is the query string (e.g. "?alarm=…"), updated when navigate changes it.
export function useSearch(): string {
  const [search, setSearch] = useState(location.search);
  useEffect(() => {
    const fn = () => setSearch(location.search);
    listeners.add(fn);
    return () => {
      listeners.delete(fn);
    };
  }, []);
  return search;
}

// onLink makes an <a href> navigate inside the app (ctrl/middle click still open a tab).
export function onLink(e: MouseEvent) {
  const a = e.currentTarget as HTMLAnchorElement;
  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(a.getAttribute('href') ?? '/');
}
