# shellcheck shell=bash
# A stand-in for the parts of devstack that devstack/plugin.sh uses, so
# tests/functional/test_devstack.py can run the plugin's phases the way
# stack.sh does (settings sourced once, then "source plugin.sh MODE PHASE")
# against a proxy-server.conf made the way devstack's lib/swift makes it.
#
# The ini helpers behave as devstack's inc/ini-config ones do: they work
# line by line with sed on the lines from "[section]" to the next header,
# write options as "name = value" right under the section header, append a
# missing section at the end of the file, and iniget answers the value with
# its surrounding blanks gone. Everything else records what it was asked
# in $STANDIN_LOG instead of touching the machine.

function ini_has_option {
    local file=$1 section=$2 option=$3
    [[ -n "$(sed -n -e "/^\[$section\]/,/^\[.*\]/ { /^${option}[ \t]*=/ p; }" \
        "$file")" ]]
}

function iniget {
    local file=$1 section=$2 option=$3 found
    found=$(sed -n -e "/^\[$section\]/,/^\[.*\]/ { /^${option}[ \t]*=/ p; }" \
        "$file")
    # Unquoted on purpose: blanks around the value collapse, as devstack's.
    # shellcheck disable=SC2086
    echo ${found#*=}
}

function iniset {
    local file=$1 section=$2 option=$3 value=$4 sep
    [[ -z "$section" || -z "$option" ]] && return
    if ! grep -q "^\[$section\]" "$file" 2>/dev/null; then
        printf '\n[%s]\n' "$section" >> "$file"
    fi
    if ini_has_option "$file" "$section" "$option"; then
        sep=$(printf '\001')
        sed -i -e "/^\[$section\]/,/^\[.*\]/ s${sep}^\(${option}[ \t]*=[ \t]*\).*\$${sep}\1${value}${sep}" "$file"
    else
        sed -i -e "/^\[$section\]/ a\\
$option = $value
" "$file"
    fi
}

function inidelete {
    local file=$1 section=$2 option=$3
    [[ -z "$section" || -z "$option" ]] && return
    sed -i -e "/^\[$section\]/,/^\[.*\]/ { /^${option}[ \t]*=/ d; }" "$file"
}

function iniuncomment {
    local file=$1 section=$2 option=$3
    sed -i -e "/^\[$section\]/,/^\[.*\]/ s|[^ \t]*#[ \t]*\(${option}[ \t]*=.*\$\)|\1|" "$file"
}

# functions-common

function is_service_enabled {
    local service
    for service in "$@"; do
        [[ ",$ENABLED_SERVICES," == *",$service,"* ]] && return 0
    done
    return 1
}

function enable_service {
    is_service_enabled "$1" || ENABLED_SERVICES+=",$1"
}

function define_plugin {
    echo "define_plugin $*" >> "$STANDIN_LOG"
}

function echo_summary {
    echo "summary: $*" >> "$STANDIN_LOG"
}

function die {
    local line=$1
    shift
    echo "die at line $line: $*" | tee -a "$STANDIN_LOG" >&2
    exit 1
}

function sudo {
    "$@"
}

# inc/python and lib/database: recorded, the test provides the results.

function setup_develop {
    echo "setup_develop $*" >> "$STANDIN_LOG"
}

function database_connection_url {
    echo "$STANDIN_DATABASE_SERVER/$1"
}

function recreate_database {
    echo "recreate_database $*" >> "$STANDIN_LOG"
}

function mysql {
    echo "mysql $*" >> "$STANDIN_LOG"
}

function dropdb {
    echo "dropdb $*" >> "$STANDIN_LOG"
}

# lib/keystone

function configure_keystone_authtoken_middleware {
    local conf_file=$1 admin_user=$2 section=${3:-keystone_authtoken}
    iniset "$conf_file" "$section" auth_type password
    iniset "$conf_file" "$section" interface public
    iniset "$conf_file" "$section" auth_url "$KEYSTONE_SERVICE_URI"
    iniset "$conf_file" "$section" username "$admin_user"
    iniset "$conf_file" "$section" password "$SERVICE_PASSWORD"
    iniset "$conf_file" "$section" user_domain_name Default
    iniset "$conf_file" "$section" project_name service
    iniset "$conf_file" "$section" project_domain_name Default
    iniset "$conf_file" "$section" memcached_servers localhost:11211
}

# lib/swift's configure_swift, the part that writes proxy-server.conf:
# Swift's sample, devstack's extra middleware around tempauth and before
# proxy-server, Keystone's authtoken + keystoneauth when keystone is on.

function configure_swift_proxy {
    local conf=$SWIFT_CONF_DIR/proxy-server.conf
    local swift_pipeline="$SWIFT_EXTRAS_MIDDLEWARE_NO_AUTH"
    export SWIFT_CONFIG_PROXY_SERVER=$conf
    cp "$SWIFT_PROXY_SAMPLE" "$conf"
    iniuncomment "$conf" DEFAULT swift_dir
    iniset "$conf" DEFAULT swift_dir "$SWIFT_CONF_DIR"
    iniuncomment "$conf" DEFAULT workers
    iniset "$conf" DEFAULT workers 1
    iniuncomment "$conf" DEFAULT bind_port
    iniset "$conf" DEFAULT bind_port 8080
    iniset "$conf" app:proxy-server node_timeout 120
    iniset "$conf" app:proxy-server conn_timeout 20
    iniset "$conf" filter:versioned_writes allow_versioned_writes true
    iniset "$conf" filter:proxy-logging reveal_sensitive_prefix 12
    if is_service_enabled keystone; then
        swift_pipeline+=" authtoken keystoneauth"
    fi
    swift_pipeline+=" tempauth "
    sed -i "/^pipeline/ { s/tempauth/${swift_pipeline} ${SWIFT_EXTRAS_MIDDLEWARE}/ ;}" "$conf"
    sed -i "/^pipeline/ { s/proxy-server/${SWIFT_EXTRAS_MIDDLEWARE_LAST} proxy-server/ ; }" "$conf"
    iniset "$conf" app:proxy-server account_autocreate true
    iniset "$conf" app:proxy-server allow_account_management true
    iniset "$conf" filter:crossdomain use "egg:swift#crossdomain"
    if is_service_enabled keystone; then
        iniset "$conf" filter:authtoken log_name swift
        iniset "$conf" filter:authtoken paste.filter_factory \
            keystonemiddleware.auth_token:filter_factory
        configure_keystone_authtoken_middleware "$conf" swift filter:authtoken
        iniset "$conf" filter:authtoken delay_auth_decision 1
        iniset "$conf" filter:authtoken cache swift.cache
        iniset "$conf" filter:authtoken include_service_catalog False
        iniset "$conf" filter:keystoneauth use "egg:swift#keystoneauth"
        iniset "$conf" filter:keystoneauth operator_roles "member, admin"
    fi
    # After keystoneauth: the commented keystone sections of the sample lie
    # inside [filter:tempauth]'s range and hold a "# reseller_prefix" too.
    iniuncomment "$conf" filter:tempauth account_autocreate
    iniset "$conf" filter:tempauth reseller_prefix TEMPAUTH
}

# stack.sh: settings once, then each phase as "source plugin.sh MODE PHASE".

function run_plugin {
    # shellcheck disable=SC1090,SC1091
    source "$STACKSYNC_SWIFT_DIR/devstack/plugin.sh" "$@"
}
