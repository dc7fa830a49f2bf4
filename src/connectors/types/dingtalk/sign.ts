import { createHmac } from 'node:crypto';

/**
 * DingTalk's signature of a custom robot's request: the base64 of HMAC-SHA256, keyed with the
 * robot's secret, over `{timestamp}\n{secret}` (timestamp in epoch milliseconds). It goes in the
 * query as `timestamp` and `sign` (URL-encoded); DingTalk refuses it an hour after the timestamp.
 */
export function dingtalkSignature(secret: string, timestamp: number): string {
  return createHmac('sha256', secret).update(`${timestamp}\n${secret}`, 'utf8').digest('base64');
}

/** The robot's webhook URL with `timestamp` and `sign` added. */
export function signedUrl(url: string, secret: string, timestamp: number): string {
  const signed = new URL(url);
  signed.searchParams.set('timestamp', String(timestamp));
  signed.searchParams.set('sign', dingtalkSignature(secret, timestamp));
  return signed.href;
}
