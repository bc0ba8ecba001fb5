import { createRouter, createWebHashHistory } from 'vue-router'
import LabView from './views/LabView.vue'

export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/', redirect: '/lab' },
    { path: '/lab', name: 'lab', component: LabView, meta: { title: 'Lab' } },
    { path: '/instruments', name: 'instruments', component: () => import('./views/InstrumentsView.vue'), meta: { title: 'Instruments' } },
    { path: '/experts', name: 'experts', component: () => import('./views/ExpertsView.vue'), meta: { title: 'Experts' } },
    { path: '/compare', name: 'compare', component: () => import('./views/CompareView.vue'), meta: { title: 'Compare' } },
    { path: '/history', name: 'history', component: () => import('./views/HistoryView.vue'), meta: { title: 'History' } },
    { path: '/history/:id(\\d+)', name: 'run', component: () => import('./views/HistoryView.vue'), meta: { title: 'History' } },
    { path: '/checkpoints', name: 'checkpoints', component: () => import('./views/CheckpointsView.vue'), meta: { title: 'Checkpoints' } },
    { path: '/studies', name: 'studies', component: () => import('./views/StudyView.vue'), meta: { title: 'Studies' } },
    { path: '/models', name: 'models', component: () => import('./views/ModelsView.vue'), meta: { title: 'Models' } },
    { path: '/:rest(.*)*', redirect: '/lab' },
  ],
})

router.afterEach((to) => {
  document.title = `Soliloquy · ${String(to.meta.title ?? '')}`
})
