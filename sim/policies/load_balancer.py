"""Defaults of the cloud load balancer in front of VM-based policies (AWS ALB target groups).

A target is checked every 30 s; it is healthy after 5 consecutive successes and unhealthy
after 2 failures (Elastic Load Balancing target group defaults). So a new VM or a resized one
serves about two minutes after its application is up, and a dead one keeps receiving
requests for about a minute.
"""

ALB_HEALTH_CHECK_INTERVAL_S = 30.0
ALB_HEALTHY_THRESHOLD = 5
ALB_UNHEALTHY_THRESHOLD = 2
