"""The digest's configuration: config.toml read into a frozen, validated Config.

declaration.py declares every key once (a dataclass field with a Setting); reader.py
and kinds.py read and check values; addresses.py checks what goes into mail headers;
loading.py builds the Config; reference.py writes the docs tables and init's template.
"""

from digest.config.addresses import ascii_domain
from digest.config.declaration import (
    KNOWN_KEYS,
    BouncesConfig,
    CategoryConfig,
    Config,
    DkimConfig,
    EmailConfig,
    FetchConfig,
    ServeConfig,
    Setting,
    SmtpConfig,
    SubscribeConfig,
    WordPressSource,
)
from digest.config.loading import DEFAULT_CONFIG, config_path, load_config, pages_url

__all__ = [
    "DEFAULT_CONFIG",
    "KNOWN_KEYS",
    "BouncesConfig",
    "CategoryConfig",
    "Config",
    "DkimConfig",
    "EmailConfig",
    "FetchConfig",
    "ServeConfig",
    "Setting",
    "SmtpConfig",
    "SubscribeConfig",
    "WordPressSource",
    "ascii_domain",
    "config_path",
    "load_config",
    "pages_url",
]
