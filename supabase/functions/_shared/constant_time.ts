// Comparing secrets (API keys, webhook signatures) without leaking them through timing.
import { timingSafeEqual } from "node:crypto";

export function constantTimeEqual(a: string, b: string): boolean {
  const left = new TextEncoder().encode(a);
  const right = new TextEncoder().encode(b);
  // Compare equal lengths only, so the time taken says nothing about the secret.
  return left.length === right.length && timingSafeEqual(left, right);
}
