"""Robot-grasp simulation: objects, a parallel-jaw gripper, antipodal sampling, MuJoCo trials."""
