/** A Standard Webhooks secret that is not `whsec_<base64>` of 24 to 75 bytes, or no secret at all. */
export class InvalidWebhookSecretError extends Error {
  override readonly name = "InvalidWebhookSecretError";

  constructor(detail: string, options?: ErrorOptions) {
    super(`invalid Standard Webhooks secret: ${detail}`, options);
  }
}

/** A webhook-id or webhook-timestamp the signed string cannot carry unambiguously. */
export class InvalidWebhookHeaderError extends Error {
  override readonly name = "InvalidWebhookHeaderError";
  readonly header: "webhook-id" | "webhook-timestamp";

  constructor(header: "webhook-id" | "webhook-timestamp", detail: string, options?: ErrorOptions) {
    super(`invalid ${header}: ${detail}`, options);
    this.header = header;
  }
}
