// vhost-user ports (ports/vhost.cpp): a socket registered with librte_vhost, in server or client mode.
#pragma once
#include <string>

namespace vhn {

// Registers and starts the socket at path; the port's id. Throws RangeErr / runtime_error naming the field.
int createVhostPort(int bridge, bool client, const std::string& path);

}  // namespace vhn
