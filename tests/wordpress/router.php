<?php
/*
 * Router for `php -S`: what Apache's or nginx's rewrite rules for WordPress do.
 * Files and folders that exist (static files, wp-login.php, wp-admin/) are left to
 * the built-in server; every other path goes to WordPress's index.php, so pretty
 * permalinks (/category/news/feed/) and /wp-json/ work.
 */
$root = rtrim($_SERVER['DOCUMENT_ROOT'], '/');
$path = rawurldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?? '/');
if ($path !== '/' && strpos($path, '..') === false && file_exists($root . $path)) {
    return false;
}
// `php -S` logs only the requests it serves itself: log WordPress's answers here.
$log = getenv('WP_FIXTURE_ACCESS_LOG');
if ($log) {
    register_shutdown_function(function () use ($log) {
        $line = sprintf("[%d]: %s %s\n", http_response_code(), $_SERVER['REQUEST_METHOD'],
                        $_SERVER['REQUEST_URI']);
        file_put_contents($log, $line, FILE_APPEND | LOCK_EX);
    });
}
$_SERVER['SCRIPT_NAME'] = '/index.php';
$_SERVER['PHP_SELF'] = '/index.php';
$_SERVER['SCRIPT_FILENAME'] = $root . '/index.php';
chdir($root);
require $root . '/index.php';
