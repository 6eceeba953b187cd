<?php
// Ask quire for a report, wait until the run has ended, and save its file in a folder
// under the name the server gives it. Needs PHP 8.2 with the curl extension and
// nothing else (Debian: php-cli php-curl).
//
//   QUIRE_URL=http://127.0.0.1:8080 QUIRE_API_KEY=... php quire-report.php \
//       --tenant acme --report invoices --format xlsx --param period=last_quarter --out /tmp
//
// The saved file's path is the one line on stdout; progress and errors go to stderr.
// Exit status: 0 the file is saved, 1 the API refused, the run did not complete or the
// file could not be saved, 2 a usage error.

declare(strict_types=1);

const USAGE = <<<'TEXT'
usage: php quire-report.php --tenant SLUG --report NAME [--format csv|xlsx]
                            [--param NAME=VALUE ...] [--out DIR] [--timeout SECONDS]
environment: QUIRE_API_KEY (required), QUIRE_URL (default http://127.0.0.1:8080)

TEXT;

/** A failure worth one clear sentence and exit status 1. */
final class QuireError extends RuntimeException
{
}

/** Says what is wrong with the command line, and how to call it, then exits 2. */
function usage_error(string $message): never
{
    fwrite(STDERR, "quire-report: $message\n" . USAGE);
    exit(2);
}

/**
 * One HTTP request. A 200 body goes to $sink when one is given (a download), any other
 * body is returned. Returns [status, headers by lower-case name, body].
 *
 * @throws QuireError when the server cannot be reached
 */
function request(string $method, string $url, ?string $apiKey, ?array $json = null, $sink = null): array
{
    $curl = curl_init($url);
    $send = ['Accept: application/json'];
    if ($apiKey !== null) {
        $send[] = "Authorization: Bearer $apiKey";
    }
    if ($json !== null) {
        $send[] = 'Content-Type: application/json';
        curl_setopt($curl, CURLOPT_POSTFIELDS, json_encode($json, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES));
    }
    $headers = [];
    $body = '';
    curl_setopt_array($curl, [
        CURLOPT_CUSTOMREQUEST => $method,
        CURLOPT_HTTPHEADER => $send,
        CURLOPT_CONNECTTIMEOUT => 10,
        CURLOPT_TIMEOUT => 600,
        CURLOPT_HEADERFUNCTION => function ($curl, string $line) use (&$headers): int {
            $pair = explode(':', $line, 2);
            if (count($pair) === 2) {
                $headers[strtolower(trim($pair[0]))] = trim($pair[1]);
            }
            return strlen($line);
        },
        // The file goes straight to disk; an error answer's JSON is kept to be read.
        CURLOPT_WRITEFUNCTION => function ($curl, string $data) use (&$body, $sink): int {
            if ($sink !== null && curl_getinfo($curl, CURLINFO_RESPONSE_CODE) === 200) {
                $written = fwrite($sink, $data);
                return $written === false ? 0 : $written;
            }
            $body .= $data;
            return strlen($data);
        },
    ]);
    $done = curl_exec($curl);
    $status = (int) curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
    $error = curl_error($curl);
    curl_close($curl);
    if ($done === false) {
        throw new QuireError("$method $url failed: $error");
    }
    return [$status, $headers, $body];
}

/** The API's {"error":{"code","message","details"}} answer as one message. */
function api_error(string $what, int $status, string $body): QuireError
{
    $answer = json_decode($body, true);
    $error = is_array($answer) ? ($answer['error'] ?? null) : null;
    if (!is_array($error) || !isset($error['code'], $error['message'])) {
        $excerpt = substr(trim($body), 0, 200);
        return new QuireError("$what: the server answered $status, not with the API's JSON: $excerpt");
    }
    $message = "$what: the API answered $status {$error['code']}: {$error['message']}";
    foreach ($error['details']['fields'] ?? [] as $field) {
        $message .= "\n  {$field['field']} {$field['message']}";
    }
    return new QuireError($message);
}

/**
 * A JSON call of the API: the decoded answer of a 2xx, else the API's error.
 *
 * @throws QuireError
 */
function call(string $what, string $method, string $url, string $apiKey, ?array $json = null): array
{
    [$status, , $body] = request($method, $url, $apiKey, $json);
    if ($status < 200 || $status > 299) {
        throw api_error($what, $status, $body);
    }
    $answer = json_decode($body, true);
    if (!is_array($answer)) {
        throw new QuireError("$what: the answer is not JSON: " . substr($body, 0, 200));
    }
    return $answer;
}

/**
 * The file name of a Content-Disposition header, filename* (RFC 8187, UTF-8)
 * preferred, checked to be a plain name: a server must not be able to write
 * outside the folder (../.bashrc) or hide a file in it.
 *
 * @throws QuireError
 */
function file_name(string $disposition): string
{
    if (preg_match('/;\s*filename\*\s*=\s*([^;]*)/i', $disposition, $extended)) {
        if (!preg_match("/^UTF-8'[^']*'(.*)$/i", trim($extended[1]), $parts)) {
            throw new QuireError("the download's filename* is not UTF-8: {$extended[1]}");
        }
        $name = rawurldecode($parts[1]);
        if (!preg_match('//u', $name)) {
            throw new QuireError("the download's filename* is not UTF-8: {$extended[1]}");
        }
    } elseif (preg_match('/;\s*filename\s*=\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\s]*))/i', $disposition, $plain)) {
        $name = $plain[1] !== '' ? preg_replace('/\\\\(.)/s', '$1', $plain[1]) : ($plain[2] ?? '');
    } else {
        throw new QuireError('the download names no file (no filename in Content-Disposition)');
    }
    if ($name === '' || $name === '.' || str_contains($name, '..') || strpbrk($name, "/\\") !== false
        || preg_match('/[\x00-\x1f\x7f]/', $name)) {
        throw new QuireError("the download's file name " . json_encode($name, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE) . ' is not a plain file name');
    }
    return $name;
}

/**
 * Downloads a completed run's file into $dir under the server's name; returns its path.
 * The bytes go to a temporary file that is renamed once complete.
 *
 * @throws QuireError
 */
function download(string $url, string $dir): string
{
    $partial = tempnam($dir, '.quire-');
    if ($partial === false) {
        throw new QuireError("cannot create a file in $dir");
    }
    try {
        $sink = fopen($partial, 'wb');
        try {
            [$status, $headers, $body] = request('GET', $url, null, null, $sink);
        } finally {
            fclose($sink);
        }
        if ($status !== 200) {
            throw api_error('downloading the file', $status, $body);
        }
        $path = $dir . DIRECTORY_SEPARATOR . file_name($headers['content-disposition'] ?? '');
        if (!rename($partial, $path)) {
            throw new QuireError("cannot move the download to $path");
        }
        return $path;
    } finally {
        if (file_exists($partial)) {
            unlink($partial);
        }
    }
}

/** Runs the command; returns the exit status. */
function main(array $argv): int
{
    $options = getopt('', ['tenant:', 'report:', 'format:', 'param:', 'out:', 'timeout:', 'help'], $rest);
    if ($options === false || $rest !== count($argv)) {
        usage_error('unexpected argument ' . json_encode($argv[$rest] ?? ''));
    }
    if (isset($options['help'])) {
        fwrite(STDOUT, USAGE);
        return 0;
    }
    foreach (['tenant', 'report'] as $required) {
        if (!is_string($options[$required] ?? null)) {
            usage_error("--$required is required, once");
        }
    }
    $params = [];
    foreach ((array) ($options['param'] ?? []) as $param) {
        $pair = explode('=', (string) $param, 2);
        if (count($pair) !== 2 || $pair[0] === '') {
            usage_error("--param takes NAME=VALUE, not " . json_encode($param));
        }
        $params[$pair[0]] = $pair[1];
    }
    $dir = (string) ($options['out'] ?? '.');
    if (!is_dir($dir) || !is_writable($dir)) {
        usage_error("--out $dir is not a writable folder");
    }
    $timeout = (int) ($options['timeout'] ?? 600);
    $apiKey = getenv('QUIRE_API_KEY');
    if ($apiKey === false || $apiKey === '') {
        usage_error('set QUIRE_API_KEY to an API key (quire keys create --tenant SLUG)');
    }
    $base = rtrim(getenv('QUIRE_URL') ?: 'http://127.0.0.1:8080', '/');

    $run = call('asking for the report', 'POST', "$base/v1/reports", $apiKey, [
        'tenant' => $options['tenant'],
        'report' => $options['report'],
        'format' => (string) ($options['format'] ?? 'csv'),
        // An empty array would be sent as [], and the API wants an object.
        'params' => (object) $params,
    ]);
    $downloadUrl = $run['download_url'];
    fwrite(STDERR, "run {$run['id']} is {$run['status']}\n");

    $deadline = microtime(true) + $timeout;
    while (!in_array($run['status'], ['completed', 'failed', 'discarded', 'cancelled'], true)) {
        if (microtime(true) > $deadline) {
            throw new QuireError("run {$run['id']} did not end within $timeout s; it is {$run['status']}");
        }
        usleep(250_000);
        $run = call('following the run', 'GET', "$base/v1/reports/" . rawurlencode($run['id']), $apiKey);
        fwrite(STDERR, "run {$run['id']} is {$run['status']}, {$run['progress']['rows']} rows\n");
    }
    if ($run['status'] !== 'completed') {
        $why = isset($run['error']) ? ": {$run['error']['code']}: {$run['error']['message']}" : '';
        throw new QuireError("run {$run['id']} ended {$run['status']}$why");
    }
    fwrite(STDOUT, download($downloadUrl, $dir) . "\n");
    return 0;
}

try {
    exit(main($argv));
} catch (QuireError $error) {
    fwrite(STDERR, 'quire-report: ' . $error->getMessage() . "\n");
    exit(1);
}
