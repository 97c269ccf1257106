# shellcheck shell=bash
# plugin.sh - devstack plugin for StackSync for Swift
#
# Adds the stacksync_auth and stacksync_api filters to the Swift proxy that
# devstack's lib/swift configures, and creates their metadata database.
# Enable it in local.conf:
#
#   [[local|localrc]]
#   enable_service s-proxy s-object s-container s-account
#   enable_plugin stacksync-swift <git url of this repository>
#
# Phases:
#
# - stack install      install the package (setup_develop)
# - stack post-config  put the filters in the proxy pipeline (right after
#                      cache, or after authtoken with Keystone; before
#                      listing_formats), write their sections from
#                      devstack's database, RabbitMQ and Keystone settings,
#                      create the database and run the migrations
# - unstack            take the filters out of the proxy configuration
# - clean              the same, and drop the database
#
# Every step may run again: the pipeline is rebuilt from what is there.

# Save trace setting
_XTRACE_STACKSYNC=$(set +o | grep xtrace)
set -o xtrace

STACKSYNC_FILTERS="stacksync_auth stacksync_api"


# Functions
# ---------

# install_stacksync() - Install the package into devstack's Python
function install_stacksync {
    setup_develop "$STACKSYNC_SWIFT_DIR"
}

# _stacksync_database_url() - The metadata database's SQLAlchemy URL
function _stacksync_database_url {
    local url
    if is_service_enabled mysql postgresql; then
        url=$(database_connection_url "$STACKSYNC_DATABASE_NAME")
        # psycopg2, named explicitly: the filters give it eventlet's wait
        # callback, without which a query would stall the proxy worker.
        echo "${url/#postgresql:\/\//postgresql+psycopg2://}"
    else
        echo "sqlite:///$STACKSYNC_DATA_DIR/metadata.sqlite"
    fi
}

# _stacksync_events_url() - RabbitMQ's URL for Kombu, or empty (embedded)
function _stacksync_events_url {
    if [[ -n "$STACKSYNC_EVENTS_URL" ]]; then
        echo "$STACKSYNC_EVENTS_URL"
    elif is_service_enabled rabbit; then
        echo "amqp://$RABBIT_USERID:$RABBIT_PASSWORD@$RABBIT_HOST:5672//"
    fi
}

# _stacksync_has_authtoken() - Is keystonemiddleware in the pipeline?
function _stacksync_has_authtoken {
    local pipeline
    pipeline=$(iniget "$STACKSYNC_PROXY_CONF" pipeline:main pipeline)
    [[ " $pipeline " == *" authtoken "* ]]
}

# _stacksync_auth_mode() - keystone when authtoken is in the pipeline
function _stacksync_auth_mode {
    if [[ -n "$STACKSYNC_AUTH_MODE" ]]; then
        echo "$STACKSYNC_AUTH_MODE"
    elif _stacksync_has_authtoken; then
        echo keystone
    else
        echo oauth
    fi
}

# _stacksync_pipeline() - The pipeline without our filters, or with them
# right after cache. authtoken moves to just before them: stacksync_auth
# maps its Keystone identity, and listing_formats (which comes right after
# cache in Swift's sample) rewrites the query strings OAuth signs.
function _stacksync_pipeline {
    local pipeline=$1
    local with_filters=$2
    local name result="" authtoken=""
    for name in $pipeline; do
        if [[ "$name" == authtoken ]]; then
            authtoken="authtoken "
        fi
    done
    for name in $pipeline; do
        case "$name" in
            stacksync_auth|stacksync_api) continue ;;
            authtoken) [[ "$with_filters" == True ]] && continue ;;
        esac
        result+=" $name"
        if [[ "$name" == cache && "$with_filters" == True ]]; then
            result+=" ${authtoken}${STACKSYNC_FILTERS}"
        fi
    done
    echo "${result# }"
}

# _stacksync_set_pipeline() - Write [pipeline:main] with or without us
function _stacksync_set_pipeline {
    local with_filters=$1
    local pipeline
    pipeline=$(iniget "$STACKSYNC_PROXY_CONF" pipeline:main pipeline)
    if [[ "$with_filters" == True && " $pipeline " != *" cache "* ]]; then
        die $LINENO "No cache filter in the proxy pipeline ($pipeline):" \
            "StackSync's filters go right after it"
    fi
    iniset "$STACKSYNC_PROXY_CONF" pipeline:main pipeline \
        "$(_stacksync_pipeline "$pipeline" "$with_filters")"
}

# _stacksync_set_option() - iniset, or inidelete for an empty value
function _stacksync_set_option {
    local section=$1
    local option=$2
    local value=$3
    if [[ -n "$value" ]]; then
        iniset "$STACKSYNC_PROXY_CONF" "$section" "$option" "$value"
    else
        inidelete "$STACKSYNC_PROXY_CONF" "$section" "$option"
    fi
}

# configure_stacksync() - The filters' sections and their place
function configure_stacksync {
    local auth_mode keystone_url=""
    auth_mode=$(_stacksync_auth_mode)
    if [[ "$auth_mode" == keystone ]]; then
        if ! _stacksync_has_authtoken; then
            die $LINENO "STACKSYNC_AUTH_MODE=keystone needs Keystone's" \
                "authtoken in the proxy pipeline (enable keystone)"
        fi
        keystone_url=${KEYSTONE_SERVICE_URI_V3:-$KEYSTONE_SERVICE_URI/v3}
    fi
    if _stacksync_has_authtoken; then
        # OAuth-signed requests carry no Keystone token: authtoken must
        # let them through for stacksync_auth to check.
        iniset "$STACKSYNC_PROXY_CONF" filter:authtoken \
            delay_auth_decision true
    fi

    iniset "$STACKSYNC_PROXY_CONF" filter:stacksync_auth use \
        "egg:stacksync_swift#stacksync_auth"
    iniset "$STACKSYNC_PROXY_CONF" filter:stacksync_api use \
        "egg:stacksync_swift#stacksync_api"
    _stacksync_set_option filter:stacksync_api storage_account \
        "$STACKSYNC_STORAGE_ACCOUNT"
    _stacksync_set_option filter:stacksync_api database_url \
        "$(_stacksync_database_url)"
    _stacksync_set_option filter:stacksync_api events_url \
        "$(_stacksync_events_url)"
    _stacksync_set_option filter:stacksync_api auth_mode "$auth_mode"
    _stacksync_set_option filter:stacksync_api keystone_auth_url \
        "$keystone_url"
    _stacksync_set_option filter:stacksync_api default_quota \
        "$STACKSYNC_DEFAULT_QUOTA"

    _stacksync_set_pipeline True
}

# init_stacksync() - Create the metadata database and migrate it
function init_stacksync {
    if is_service_enabled mysql postgresql; then
        recreate_database "$STACKSYNC_DATABASE_NAME"
    else
        sudo install -d -o "$STACK_USER" "$STACKSYNC_DATA_DIR"
    fi
    stacksync-swift --database-url "$(_stacksync_database_url)" db upgrade
}

# _stacksync_remove_section() - Delete one [section] and its options
function _stacksync_remove_section {
    local section=$1
    sed -i -e "/^\[$section\]/,/^\[/ { /^\[/!d; /^\[$section\]/d; }" \
        "$STACKSYNC_PROXY_CONF"
}

# unconfigure_stacksync() - Plain Swift again: no filters, no sections
function unconfigure_stacksync {
    [[ -f "$STACKSYNC_PROXY_CONF" ]] || return 0
    _stacksync_set_pipeline False
    _stacksync_remove_section filter:stacksync_auth
    _stacksync_remove_section filter:stacksync_api
}

# cleanup_stacksync() - Drop the metadata database
function cleanup_stacksync {
    if is_service_enabled mysql; then
        mysql -u"$DATABASE_USER" -p"$DATABASE_PASSWORD" -h"$DATABASE_HOST" \
            -e "DROP DATABASE IF EXISTS $STACKSYNC_DATABASE_NAME;"
    elif is_service_enabled postgresql; then
        dropdb -h "$DATABASE_HOST" -U "$DATABASE_USER" --if-exists \
            "$STACKSYNC_DATABASE_NAME"
    fi
    sudo rm -rf "$STACKSYNC_DATA_DIR"
}


# Dispatch
# --------

if is_service_enabled stacksync-swift; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing StackSync for Swift"
        install_stacksync
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Adding StackSync to the Swift proxy pipeline"
        configure_stacksync
        init_stacksync
    fi

    if [[ "$1" == "unstack" ]]; then
        echo_summary "Taking StackSync out of the Swift proxy pipeline"
        unconfigure_stacksync
    fi

    if [[ "$1" == "clean" ]]; then
        echo_summary "Cleaning StackSync for Swift"
        unconfigure_stacksync
        cleanup_stacksync
    fi
fi

# Restore xtrace
$_XTRACE_STACKSYNC
