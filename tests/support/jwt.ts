// HS256 JWTs signed with Web Crypto, the way Supabase Auth signs them with the project's JWT
// secret: for tests that present a user's token, or a forged one.

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(
    /\//g,
    "_",
  ).replace(/=+$/, "");
}

const utf8 = (text: string) => new TextEncoder().encode(text);

/** A compact JWS of `claims`, signed with HMAC-SHA256 under `secret`. */
export async function signJwt(
  claims: Record<string, unknown>,
  secret: string,
): Promise<string> {
  const header = base64url(utf8(JSON.stringify({ alg: "HS256", typ: "JWT" })));
  const payload = base64url(utf8(JSON.stringify(claims)));
  const key = await crypto.subtle.importKey(
    "raw",
    utf8(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const signature = await crypto.subtle.sign(
    "HMAC",
    key,
    utf8(`${header}.${payload}`),
  );
  return `${header}.${payload}.${base64url(new Uint8Array(signature))}`;
}
