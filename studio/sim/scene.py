"""The visual MuJoCo geoms of a simulated env, for drawing the 3D scene (e.g. in Rerun).

`geoms(env)` returns one dict per visible geom:
    name, body (body name; the per-frame pose of that body is in sim/poses.parquet;
    "world" is fixed at the origin and has no rows there),
    type (box/sphere/capsule/cylinder/plane/ellipsoid/mesh), size (MuJoCo's size triple:
    half-extents for box, radius for sphere, radius + half-length for capsule/cylinder,
    half-sizes for plane), rgba (4 floats; the material's colour when it has one),
    pos (3) and quat (4, w x y z) relative to the body, and for meshes "vertices" (N, 3)
    float32 and "faces" (M, 3) int32 numpy arrays in the geom's frame.
Collision-only geoms (group 3) and invisible ones (alpha 0) are left out.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from studio.errors import StudioError

_TYPES = {0: "plane", 2: "sphere", 3: "capsule", 4: "ellipsoid", 5: "cylinder", 6: "box", 7: "mesh"}
VISUAL_GROUPS = (0, 1, 2)
FLOOR_RGBA = (0.15, 0.25, 0.35, 1.0)


def geoms(env_name: str = "pick_cube") -> list[dict]:
    """Describe every visual geom of `env_name` (copies; callers may mutate them)."""
    return [{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in g.items()} for g in _geoms(env_name)]


@lru_cache(maxsize=4)
def _geoms(env_name: str) -> tuple[dict, ...]:
    if env_name != "pick_cube":
        from studio.sim.registry import get_env

        spec = get_env(env_name)
        if "model_xml" not in spec.extra:
            raise StudioError(env_name, "this environment does not describe its 3D scene")
        xml = spec.extra["model_xml"]
    else:
        xml = pick_cube_xml()
    from studio.sim import ensure_gl

    ensure_gl()
    import mujoco

    m = mujoco.MjModel.from_xml_path(str(xml))
    out = []
    for g in range(m.ngeom):
        gtype = int(m.geom_type[g])
        if gtype not in _TYPES or int(m.geom_group[g]) not in VISUAL_GROUPS:
            continue
        rgba = np.asarray(m.geom_rgba[g], dtype=np.float32)
        mat = int(m.geom_matid[g])
        if mat >= 0:
            rgba = np.asarray(m.mat_rgba[mat], dtype=np.float32)
            if gtype == 0 and int(np.max(m.mat_texid[mat])) >= 0:
                rgba = np.asarray(FLOOR_RGBA, dtype=np.float32)  # textured floor: its mean colour
        if rgba[3] <= 0.0:
            continue
        body = m.body(int(m.geom_bodyid[g])).name
        name = m.geom(g).name or f"{body}/geom{g}"
        item = {
            "name": name,
            "body": body,
            "type": _TYPES[gtype],
            "size": [float(x) for x in m.geom_size[g]],
            "rgba": [float(x) for x in rgba],
            "pos": [float(x) for x in m.geom_pos[g]],
            "quat": [float(x) for x in m.geom_quat[g]],
        }
        if gtype == 7:
            mid = int(m.geom_dataid[g])
            v0, nv = int(m.mesh_vertadr[mid]), int(m.mesh_vertnum[mid])
            f0, nf = int(m.mesh_faceadr[mid]), int(m.mesh_facenum[mid])
            item["vertices"] = np.asarray(m.mesh_vert[v0 : v0 + nv], dtype=np.float32).copy()
            item["faces"] = np.asarray(m.mesh_face[f0 : f0 + nf], dtype=np.int32).copy()
            item["mesh"] = m.mesh(mid).name
        out.append(item)
    return tuple(out)


def pick_cube_xml():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("gym_hil")
    if spec is None or not spec.origin:
        raise StudioError("gym_hil", "is not installed; the pick_cube scene needs it")
    return Path(spec.origin).parent / "assets" / "scene.xml"
