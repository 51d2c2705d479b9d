import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, ErrorCode } from './errors.js';
import { ErrorBody, toErrorBody } from './http-error.js';

/**
 * Fastify's `frameworkErrors` option: the router refuses a malformed URL (`%ZZ`) or an
 * over-long path parameter before any hook, Nest filter or onRequest runs, and would
 * answer in its own shape. Here the answer takes ours, and the request id header too.
 */
export function frameworkErrors(error: Error, request: FastifyRequest, reply: FastifyReply): void {
  const { body } = toErrorBody(error);
  void reply.status(body.statusCode).header('x-request-id', request.id).header('content-type', 'application/json; charset=utf-8').send(body);
}

function bodyFor(code: ErrorCode, message: string): ErrorBody {
  const error = new DomainError(code, message);
  return { statusCode: error.statusCode, code, message, details: [] };
}

/** The answer to an error of Node's HTTP parser, which comes before Fastify has a request. */
export function clientErrorBody(error: NodeJS.ErrnoException): ErrorBody {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return bodyFor('HEADERS_TOO_LARGE', `The request line and headers are larger than ${maxHeaderSize} bytes`);
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return bodyFor('REQUEST_TIMEOUT', 'The request was not received in time');
    default:
      return bodyFor('MALFORMED_REQUEST', 'The request is not valid HTTP/1.1');
  }
}

/**
 * Fastify's `clientErrorHandler` option (Node's 'clientError' event): Node would answer
 * 431 or 400 with no body. The socket is closed after the answer, as Node does, because
 * nothing after the bad bytes can be framed.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const answer = clientErrorBody(error);
  const body = JSON.stringify(answer);
  socket.end(
    `HTTP/1.1 ${answer.statusCode} ${STATUS_CODES[answer.statusCode]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}
