<?php
/*
 * Installs WordPress in the folder given as the first argument (it holds
 * wp-config.php) and sets the site up like a news site in Baku:
 *     php install.php DOCROOT
 */
define('WP_INSTALLING', true);
$_SERVER['HTTP_HOST'] = parse_url(getenv('WP_FIXTURE_HOME'), PHP_URL_HOST);
require $argv[1] . '/wp-load.php';

// No "your new site" mail, and no HTTP request to test permalinks: they are set below.
function wp_new_blog_notification($blog_title, $blog_url, $user_id, $password) {}
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
$structure = '/%year%/%monthnum%/%day%/%postname%/';
$pretty = function () use ($structure) { return $structure; };
add_filter('pre_option_permalink_structure', $pretty);
wp_install('Aze Media', 'admin', 'admin@example.org', true, '', 'admin-password-for-tests');
remove_filter('pre_option_permalink_structure', $pretty);

update_option('blogdescription', 'News from Azerbaijan and the region');
update_option('timezone_string', getenv('WP_FIXTURE_TIME_ZONE'));
update_option('gmt_offset', '');
update_option('posts_per_rss', 10);
update_option('rss_use_excerpt', 0);
global $wp_rewrite;
$wp_rewrite->set_permalink_structure($structure);
// Taxonomies were registered before the tables existed, without their rewrite rules:
// WordPress makes the rules again on the first request that needs them.
delete_option('rewrite_rules');
// The sample post and page of a fresh install are not part of the site.
wp_delete_post(1, true);
wp_delete_post(2, true);
$draft = get_page_by_path('privacy-policy', OBJECT, 'page');
if ($draft) {
    wp_delete_post($draft->ID, true);
}
echo "installed\n";
