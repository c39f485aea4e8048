<?php
/*
 * Router for `php -S`: what Apache's or nginx's rewrite rules for WordPress do.
 * Static files that exist are left to the built-in server; PHP scripts that exist
 * (wp-login.php, wp-admin/...) run as they are; every other path goes to WordPress's
 * index.php, so pretty permalinks (/category/news/feed/) and /wp-json/ work.
 *
 * `php -S` logs a script's answer only after sending it, and not at all when a router
 * ran it: scripts' answers are logged here, to WP_FIXTURE_ACCESS_LOG, before the
 * connection closes ("[STATUS]: METHOD URI").
 */
$fixture_root = rtrim($_SERVER['DOCUMENT_ROOT'], '/');
$fixture_path = rawurldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?? '/');
$fixture_script = '/index.php';
if ($fixture_path !== '/' && strpos($fixture_path, '..') === false
        && file_exists($fixture_root . $fixture_path)) {
    if (is_dir($fixture_root . $fixture_path)) {
        if (substr($fixture_path, -1) !== '/'
                || !is_file($fixture_root . $fixture_path . 'index.php')) {
            return false;  // the built-in server redirects to the slash, or answers 404
        }
        $fixture_script = $fixture_path . 'index.php';
    } elseif (substr($fixture_path, -4) === '.php') {
        $fixture_script = $fixture_path;
    } else {
        return false;  // a static file
    }
}
if (getenv('WP_FIXTURE_ACCESS_LOG')) {
    register_shutdown_function(function () {
        $line = sprintf("[%d]: %s %s\n", http_response_code(), $_SERVER['REQUEST_METHOD'],
                        $_SERVER['REQUEST_URI']);
        file_put_contents(getenv('WP_FIXTURE_ACCESS_LOG'), $line, FILE_APPEND | LOCK_EX);
    });
}
$_SERVER['SCRIPT_NAME'] = $fixture_script;
$_SERVER['PHP_SELF'] = $fixture_script;
$_SERVER['SCRIPT_FILENAME'] = $fixture_root . $fixture_script;
chdir(dirname($fixture_root . $fixture_script));
unset($fixture_path);
require $fixture_root . $fixture_script;
