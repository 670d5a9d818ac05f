// Turning HTTP answers into errors people can read. Pure, no DOM.

/** An API call that did not succeed; status is the HTTP status (0 for network failures). */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code machine code from the server's {"error"} field
   * @param {string} message human text
   * @param {number} [retryAfter] seconds, for 429
   */
  constructor(status, code, message, retryAfter) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** Default human messages by status, used when the server sends none. */
const STATUS_TEXT = {
  0: 'Cannot reach the server. Check your connection and try again.',
  400: 'The request was not accepted.',
  401: 'Please sign in again.',
  403: 'You are not allowed to do that.',
  404: 'Not found.',
  409: 'That conflicts with something that already exists.',
  410: 'This link has expired or was revoked.',
  413: 'File too large.',
  415: 'Not a photo or video.',
  422: 'The content was rejected.',
  429: 'Too many attempts. Please wait a moment.',
  503: 'The server is unavailable right now.',
};

/**
 * Builds an ApiError from a status and a parsed JSON body (may be null).
 * @param {number} status
 * @param {any} body
 * @param {number} [retryAfter]
 */
export function apiError(status, body, retryAfter) {
  const code = body && typeof body.error === 'string' ? body.error : `http_${status}`;
  const message = body && typeof body.message === 'string' && body.message
    ? body.message
    : STATUS_TEXT[status] || `Request failed (${status}).`;
  return new ApiError(status, code, message, retryAfter);
}

/**
 * The message shown for one failed upload: fixed wording for the statuses the
 * upload contract defines, else the server's message.
 * @param {number} status
 * @param {any} body
 */
export function uploadErrorMessage(status, body) {
  switch (status) {
    case 413: return 'Too large: over the server’s upload limit.';
    case 415: return 'Not a photo or video: this file type is not accepted.';
    case 422: return 'Rejected: the image has too many pixels.';
    case 0: return 'Network error: the upload was interrupted.';
    default: return apiError(status, body).message;
  }
}

/**
 * Parses a JSON body text; null when empty or not JSON.
 * @param {string} text
 */
export function parseJSON(text) {
  if (!text) return null;
  try { return JSON.parse(text); } catch { return null; }
}

/**
 * The human text of any thrown value.
 * @param {unknown} e
 */
export function messageOf(e) {
  return e instanceof Error && e.message ? e.message : 'Something went wrong.';
}
